#!/usr/bin/env bash
# Moved to tools/dev/bootstrap.sh; this forwarder goes in the next release.
exec bash "$(dirname "${BASH_SOURCE[0]}")/dev/bootstrap.sh" "$@"
