"""``python -m mmfastervit.configs``: hand the shipped configs to a project.

    python -m mmfastervit.configs --list
    python -m mmfastervit.configs NAME [NAME ...] --dest DIR   # the configs and their bases
    python -m mmfastervit.configs --path                       # where they are installed
"""
import argparse
import sys

from ..errors import ConfigError
from . import config_root, copy_config, list_configs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m mmfastervit.configs',
        description='Copy mmfastervit configs, with the _base_ files they need, into DIR')
    parser.add_argument('names', nargs='*', metavar='NAME', help='config names (see --list)')
    parser.add_argument('--dest', metavar='DIR', help='where the copies go')
    parser.add_argument('--list', action='store_true', help='print the config names')
    parser.add_argument('--path', action='store_true',
                        help='print the folder of the installed configs')
    args = parser.parse_args(argv)
    try:
        if args.path:
            print(config_root())
        elif args.list:
            print('\n'.join(list_configs()))
        elif not args.names or not args.dest:
            parser.error('give NAME and --dest DIR (or --list, --path)')
        else:
            for name in args.names:
                copied = copy_config(name, args.dest)
                bases = len(copied) - 1
                print(f'{name}: {copied[0]}' + (f' (and {bases} base file{"s" * (bases > 1)})'
                                                if bases else ''))
    except (ConfigError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
