#!/bin/sh
# Starts one platform service (or the CLI) from the built dist/: the container's argument names it.
set -eu

root="${HKS_APP_ROOT:-/app}"
apps="gateway invoker function-registry builder deployer event-store"

usage() {
  echo "usage: hks-platform <app> [args...]" >&2
  echo "  <app> is one of: $apps" >&2
  echo "  or 'hks' to run the command-line client" >&2
}

app="${1:-help}"
[ "$#" -gt 0 ] && shift

case "$app" in
  gateway | invoker | function-registry | builder | deployer | event-store)
    main="$root/dist/apps/$app/src/main.js"
    ;;
  hks | cli)
    main="$root/dist/apps/cli/src/main.js"
    ;;
  help | -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "hks-platform: unknown app '$app'" >&2
    usage
    exit 64
    ;;
esac

if [ ! -f "$main" ]; then
  echo "hks-platform: $main is missing; was the image built with 'npm run build'?" >&2
  exit 66
fi
exec node "$main" "$@"
