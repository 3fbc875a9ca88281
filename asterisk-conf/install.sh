#!/usr/bin/env bash
# Installs siaga112's Asterisk 22 configuration on the Asterisk host.
#
# - fills the *.template files of this directory and copies the others (http.conf, modules.conf);
# - generates a strong random secret for ARI, for AMI and for every call-taker phone, keeps them in
#   <TARGET_DIR>/siaga112-secrets.env (root only) and reuses them when run again, so adding call
#   takers or changing a trunk address does not change any existing password; no secret is ever
#   kept in the repository;
# - copies the prompts (<lang>/siaga112/*.wav) and the hold music to the sounds directory;
# - prints the ARI and AMI settings siaga112 needs.
#
# Usage, as root:
#   TELKOMSEL_IP=203.0.113.10 INDOSAT_IP=203.0.113.20 XL_IP=203.0.113.30 SMARTFREN_IP=203.0.113.40 \
#   TAKER_COUNT=8 OVERFLOW_DIAL=PJSIP/0401312112@telkomsel ./install.sh
#
# Required:
#   TELKOMSEL_IP, INDOSAT_IP, XL_IP, SMARTFREN_IP
#                     the operator's SIP signalling address (IPv4, optionally :port): Asterisk sends
#                     calls and qualify OPTIONS there and accepts calls from it
#   TAKER_COUNT       how many call-taker phones (taker1 ... takerN), 1 to 500
#   OVERFLOW_DIAL     what the fallback dials when no call taker answers, e.g.
#                     PJSIP/0401312112@telkomsel (the provincial center through a trunk)
# Optional:
#   <OPERATOR>_MATCH  more addresses or IPv4/prefix ranges that operator sends calls from,
#                     comma-separated (default: the host of <OPERATOR>_IP)
#   TAKER_PHONES      sip (desk or soft phones, default) or webrtc (browser softphones)
#   SIP_BIND          address the UDP and TCP SIP transports listen on (default 0.0.0.0)
#   SIP_PORT          their port (default 5060)
#   ARI_USERNAME      ARI user (default siaga112)
#   AMI_USERNAME      AMI user (default siaga112)
#   TARGET_DIR        where the configuration goes (default /etc/asterisk)
#   SOUNDS_DIR        Asterisk's sounds directory (default /var/lib/asterisk/sounds)
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() {
  echo "install.sh: $*" >&2
  exit 1
}

# Reads a variable that must be set; $2 says what it is.
required() {
  local name=$1 what=$2
  [[ -n ${!name:-} ]] || fail "$name is required: $what"
  printf '%s' "${!name}"
}

ipv4_re='^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$'

is_ipv4() { [[ $1 =~ $ipv4_re ]]; }

# An operator's signalling address: IPv4 with an optional port.
check_sip_address() {
  local name=$1 value=$2 host port
  host=${value%%:*}
  port=${value#"$host"}
  port=${port#:}
  is_ipv4 "$host" ||
    fail "$name is invalid: expected an IPv4 address, e.g. 203.0.113.10 or 203.0.113.10:5060, got \"$value\""
  if [[ -n $port ]] && { ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((port < 1 || port > 65535)); }; then
    fail "$name is invalid: the port must be 1 to 65535, got \"$value\""
  fi
}

# Addresses an operator calls from: IPv4 or IPv4/prefix, comma-separated.
check_match() {
  local name=$1 value=$2 item host prefix
  IFS=',' read -ra items <<<"$value"
  ((${#items[@]} > 0)) || fail "$name is invalid: expected addresses such as 203.0.113.10,198.51.100.0/24"
  for item in "${items[@]}"; do
    host=${item%%/*}
    prefix=${item#"$host"}
    prefix=${prefix#/}
    is_ipv4 "$host" || fail "$name is invalid: \"$item\" is not an IPv4 address or IPv4/prefix"
    if [[ -n $prefix ]] && { ! [[ $prefix =~ ^[0-9]{1,2}$ ]] || ((prefix > 32)); }; then
      fail "$name is invalid: \"$item\" has a prefix that is not 0 to 32"
    fi
  done
}

# --- read and check the settings ---------------------------------------------------------------
declare -A values
operators=(TELKOMSEL INDOSAT XL SMARTFREN)
for operator in "${operators[@]}"; do
  address=$(required "${operator}_IP" \
    "the ${operator,,} trunk's SIP signalling address, e.g. ${operator}_IP=203.0.113.10")
  check_sip_address "${operator}_IP" "$address"
  match_name="${operator}_MATCH"
  match=${!match_name:-${address%%:*}}
  check_match "$match_name" "$match"
  values[${operator}_IP]=$address
  values[${operator}_MATCH]=$match
done

TAKER_COUNT=$(required TAKER_COUNT "how many call-taker phones (taker1 ... takerN), e.g. TAKER_COUNT=8")
if ! [[ $TAKER_COUNT =~ ^[1-9][0-9]{0,2}$ ]] || ((TAKER_COUNT > 500)); then
  fail "TAKER_COUNT is invalid: expected a whole number from 1 to 500, got \"$TAKER_COUNT\""
fi

OVERFLOW_DIAL=$(required OVERFLOW_DIAL \
  "what the fallback dials when no call taker answers, e.g. OVERFLOW_DIAL=PJSIP/0401312112@telkomsel")
[[ $OVERFLOW_DIAL =~ ^[A-Za-z]+/[A-Za-z0-9_.@+*#-]+$ ]] ||
  fail "OVERFLOW_DIAL is invalid: expected a dial string such as PJSIP/0401312112@telkomsel," \
    "got \"$OVERFLOW_DIAL\""

TAKER_PHONES=${TAKER_PHONES:-sip}
case $TAKER_PHONES in
  sip) values[TAKER_TEMPLATE]=taker-endpoint ;;
  webrtc) values[TAKER_TEMPLATE]=taker-webrtc ;;
  *) fail "TAKER_PHONES is invalid: expected sip or webrtc, got \"$TAKER_PHONES\"" ;;
esac

SIP_BIND=${SIP_BIND:-0.0.0.0}
is_ipv4 "$SIP_BIND" || fail "SIP_BIND is invalid: expected an IPv4 address such as 0.0.0.0, got \"$SIP_BIND\""
SIP_PORT=${SIP_PORT:-5060}
if ! [[ $SIP_PORT =~ ^[0-9]{1,5}$ ]] || ((SIP_PORT < 1 || SIP_PORT > 65535)); then
  fail "SIP_PORT is invalid: expected a port from 1 to 65535, got \"$SIP_PORT\""
fi

ARI_USERNAME=${ARI_USERNAME:-siaga112}
AMI_USERNAME=${AMI_USERNAME:-siaga112}
for name in ARI_USERNAME AMI_USERNAME; do
  [[ ${!name} =~ ^[a-z][a-z0-9_-]{0,31}$ ]] ||
    fail "$name is invalid: expected lowercase letters, digits, - or _ (at most 32), got \"${!name}\""
done

TARGET_DIR=${TARGET_DIR:-/etc/asterisk}
SOUNDS_DIR=${SOUNDS_DIR:-/var/lib/asterisk/sounds}
[[ $TARGET_DIR == /* && $SOUNDS_DIR == /* ]] || fail "TARGET_DIR and SOUNDS_DIR must be absolute paths"

if command -v asterisk >/dev/null 2>&1; then
  version=$(asterisk -V 2>/dev/null || true)
  if [[ $version =~ Asterisk\ ([0-9]+) ]] && ((BASH_REMATCH[1] < 22)); then
    echo "install.sh: warning: this configuration is for Asterisk 22, this host has \"$version\"" >&2
  fi
fi

# --- secrets: reused from siaga112-secrets.env, generated when missing ---------------------------
secrets_file="$TARGET_DIR/siaga112-secrets.env"
declare -A secrets
if [[ -f $secrets_file ]]; then
  while IFS='=' read -r key value; do
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ && $value =~ ^[0-9a-f]{32,}$ ]] && secrets[$key]=$value
  done <"$secrets_file"
fi

# 192 random bits as 48 hex digits: safe in every file and in a URL.
new_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# ensure_secret NAME: keeps secrets[NAME], or generates it (in this shell, not a subshell).
ensure_secret() {
  [[ -n ${secrets[$1]:-} ]] || secrets[$1]=$(new_secret)
}

ensure_secret ARI_PASSWORD
ensure_secret AMI_SECRET
values[ARI_USERNAME]=$ARI_USERNAME
values[ARI_PASSWORD]=${secrets[ARI_PASSWORD]}
values[AMI_USERNAME]=$AMI_USERNAME
values[AMI_SECRET]=${secrets[AMI_SECRET]}
values[SIP_BIND]=$SIP_BIND
values[SIP_PORT]=$SIP_PORT
values[SOUNDS_DIR]=$SOUNDS_DIR
values[OVERFLOW_DIAL]=$OVERFLOW_DIAL
fallback=""
for ((i = 1; i <= TAKER_COUNT; i++)); do
  ensure_secret "TAKER${i}_PASSWORD"
  fallback+="${fallback:+&}PJSIP/taker$i"
done
values[FALLBACK_TAKERS]=$fallback

# --- render the templates -------------------------------------------------------------------------
# fill LINE: prints LINE with every {{NAME}} replaced by values[NAME]; an unknown name is an error.
fill() {
  local line=$1 name
  while [[ $line =~ \{\{([A-Z][A-Z0-9_]*)\}\} ]]; do
    name=${BASH_REMATCH[1]}
    [[ -v "values[$name]" ]] || fail "no value for {{$name}}"
    line=${line//"{{$name}}"/"${values[$name]}"}
  done
  printf '%s\n' "$line"
}

block_start='^;[[:space:]]*\{\{#TAKERS\}\}[[:space:]]*$'
block_end='^;[[:space:]]*\{\{/TAKERS\}\}[[:space:]]*$'

# render TEMPLATE OUTPUT: fills the template; the lines between the "; {{#TAKERS}}" and
# "; {{/TAKERS}}" comments are written once per call taker, with TAKER and TAKER_PASSWORD set.
render() {
  local template=$1 output=$2 line block_line in_block=0 i
  local -a block=()
  : >"$output"
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ $block_start ]]; then
      in_block=1
      block=()
    elif [[ $line =~ $block_end ]]; then
      in_block=0
      for ((i = 1; i <= TAKER_COUNT; i++)); do
        values[TAKER]="taker$i"
        values[TAKER_PASSWORD]=${secrets[TAKER${i}_PASSWORD]}
        for block_line in "${block[@]}"; do fill "$block_line" >>"$output"; done
        ((i == TAKER_COUNT)) || echo >>"$output"
      done
    elif ((in_block)); then
      block+=("$line")
    else
      fill "$line" >>"$output"
    fi
  done <"$template"
  ((in_block == 0)) || fail "$template: the TAKERS block is never closed"
}

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

for template in "$here"/*.conf.template; do
  name=$(basename "$template" .template)
  render "$template" "$staging/$name"
done
for file in "$here"/*.conf; do
  [[ ! -e $file.template ]] || fail "both $(basename "$file") and its .template exist: keep one"
  cp "$file" "$staging/"
done
for key in "${!secrets[@]}"; do
  printf '%s=%s\n' "$key" "${secrets[$key]}"
done | sort >"$staging/siaga112-secrets.env"

# --- install --------------------------------------------------------------------------------------
# Files holding a secret are readable by root and the asterisk group only (root only when there is
# no asterisk group: Asterisk then runs as root); the others are world-readable.
group=""
if ((EUID == 0)) && getent group asterisk >/dev/null 2>&1; then group=asterisk; fi
stamp=$(date +%Y%m%d%H%M%S)
mkdir -p "$TARGET_DIR"
for file in "$staging"/*; do
  name=$(basename "$file")
  destination="$TARGET_DIR/$name"
  if [[ -f $destination ]] && ! cmp -s "$file" "$destination"; then
    cp -p "$destination" "$destination.siaga112-$stamp.bak"
    echo "kept the previous $destination as $destination.siaga112-$stamp.bak"
  fi
  if [[ $name == siaga112-secrets.env ]]; then
    install -m 600 "$file" "$destination"
  elif grep -q -e '^password' -e '^secret' "$file"; then
    if [[ -n $group ]]; then
      install -m 640 -g "$group" "$file" "$destination"
    else
      install -m 600 "$file" "$destination"
    fi
  else
    install -m 644 "$file" "$destination"
  fi
done

while IFS= read -r -d '' sound; do
  relative=${sound#"$here/sounds/"}
  install -D -m 644 "$sound" "$SOUNDS_DIR/$relative"
done < <(find "$here/sounds" -type f -name '*.wav' -print0)

cat <<EOF
Installed siaga112's Asterisk configuration in $TARGET_DIR and its prompts in $SOUNDS_DIR.
Call-taker phones: taker1 ... taker$TAKER_COUNT, each with its TAKERn_PASSWORD from
$secrets_file (root only).
Restart Asterisk to load modules.conf (systemctl restart asterisk), then check it with
asterisk -rx 'pjsip show endpoints' and asterisk -rx 'ari show apps'.

siaga112's settings (keep them where only siaga112's user can read them):
ARI_URL=http://127.0.0.1:8088
ARI_USERNAME=$ARI_USERNAME
ARI_PASSWORD=${values[ARI_PASSWORD]}
AMI_URL=ami://$AMI_USERNAME:${values[AMI_SECRET]}@127.0.0.1:5038
TRUNKS=telkomsel,indosat,xl,smartfren
EOF
