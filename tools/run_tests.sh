#!/usr/bin/env bash
# Moved to tools/dev/run_tests.sh; this forwarder goes in the next release.
exec bash "$(dirname "${BASH_SOURCE[0]}")/dev/run_tests.sh" "$@"
