# What the posix azd hooks share (each sources it after setting `hook` to its name); not a hook.

# fail MESSAGE: say it on stderr in the hook's name and stop.
fail() {
  echo "${hook:-azd hook}: $*" >&2
  exit 1
}

# require NAME...: each is set, as azd sets the template's outputs; else stop.
require() {
  for name in "$@"; do
    [ -n "$(printenv "$name" || true)" ] ||
      fail "the template's output $name is missing; run azd provision again"
  done
}

# retry PAUSE WHAT COMMAND...: run COMMAND until it succeeds, at most ACRBOT_HOOK_TRIES times (6),
# saying WHAT and waiting ACRBOT_HOOK_WAIT seconds (PAUSE) between tries, while something new
# settles (a role assignment, a starting app). Status 1 when every try failed.
retry() {
  pause=${ACRBOT_HOOK_WAIT:-$1}
  what=$2
  shift 2
  tries=1
  until "$@"; do
    [ "$tries" -lt "${ACRBOT_HOOK_TRIES:-6}" ] || return 1
    echo "  $what, trying again in $pause s"
    sleep "$pause"
    tries=$((tries + 1))
  done
}
