# packages.sh — pc_need_packages WHO PACKAGE...: installs the Debian packages that are missing,
# as root through apt-get; otherwise says what to install and returns 1. Sourced by setup.sh
# and fuzz.sh; WHO prefixes the messages.
pc_need_packages() {
  local who=$1 p
  shift
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "$who: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "$who: these Debian packages are missing: ${missing[*]}" >&2
    echo "$who: install them as root:  sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
}
