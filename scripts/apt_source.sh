# The machine's own Debian package source, read from its apt configuration, so the project
# names no mirror of its own. `debian_source_uri CODENAME` prints the URI of the first source
# that carries the suite CODENAME (deb822 `.sources` stanzas, then one-line `deb` lines), or
# nothing (one line at most: `exit` runs END, which must not print again).
# FRESHFLEET_APT_ETC points it at another apt directory (tests).
# shellcheck shell=bash
debian_source_uri() {
  local codename=$1 etc=${FRESHFLEET_APT_ETC:-/etc/apt} uri
  uri=$(cat "$etc"/sources.list.d/*.sources 2>/dev/null | awk -v c="$codename" '
    function done() { if (uri != "" && hit && !found) { print uri; found = 1; exit } uri = ""; hit = 0 }
    /^[[:space:]]*$/ { done(); next }
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) hit = 1 }
    END { done() }')
  if [ -z "$uri" ]; then
    uri=$(cat "$etc"/sources.list "$etc"/sources.list.d/*.list 2>/dev/null | awk -v c="$codename" '
      $1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == c) { print $i; exit }
      }')
  fi
  printf '%s' "$uri"
}
