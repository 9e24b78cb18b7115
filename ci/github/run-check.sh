#!/usr/bin/env bash
# The shell of the backout GitHub Action: SARIF for code scanning, annotations for the PR,
# and the exit code of `backout check` (and `backout drill`, when asked).
# Inputs come as environment variables so that the step can be run, and tested, outside Actions.
set -uo pipefail

read -r -a paths <<< "${BACKOUT_PATHS:-.}"
args=()
if [ -n "${BACKOUT_BASE:-}" ]; then
  args+=(--base "$BACKOUT_BASE")
fi
if [ "${BACKOUT_ONLINE:-false}" = "true" ]; then
  args+=(--online)
fi
sarif="${BACKOUT_SARIF:-backout.sarif}"
fail_on="${BACKOUT_FAIL_ON:-error}"

backout check "${paths[@]}" "${args[@]}" --output-format sarif -o "$sarif" --exit-zero
status=$?
if [ "$status" -ge 2 ]; then exit "$status"; fi

backout check "${paths[@]}" "${args[@]}" --output-format github --fail-on "$fail_on"
status=$?

if [ "${BACKOUT_DRILL:-false}" = "true" ] && [ -n "${BACKOUT_BASE:-}" ]; then
  backout drill "${paths[0]}" --base "$BACKOUT_BASE" --output-format github --fail-on "$fail_on"
  drill_status=$?
  if [ "$drill_status" -gt "$status" ]; then status=$drill_status; fi
fi
exit "$status"
