#!/usr/bin/env bash
# Installs siaga112's Asterisk configuration (asterisk-conf/, mounted read-only at
# /opt/siaga112/asterisk-conf) with its install.sh, then runs Asterisk in the foreground.
#
# ARI_PASSWORD and AMI_SECRET come from the environment, so that siaga112's container gets the same
# ones: they are written into siaga112-secrets.env before install.sh runs, which reuses what it finds
# there (it generates the call-taker passwords and keeps them in the same file, on the volume that
# holds /etc/asterisk). install.sh prints the secrets it used: its output is not logged.
set -euo pipefail

conf=/opt/siaga112/asterisk-conf
secrets=/etc/asterisk/siaga112-secrets.env

[[ -f $conf/install.sh ]] || {
  echo "siaga112-asterisk: $conf/install.sh not found: mount ../asterisk-conf there" >&2
  exit 1
}

mkdir -p /etc/asterisk
touch "$secrets"
chmod 600 "$secrets"
for name in ARI_PASSWORD AMI_SECRET; do
  value=${!name:-}
  # install.sh only reuses secrets of 32 or more lowercase hex digits; anything else it would
  # replace with a new one that siaga112 does not know.
  if ! [[ $value =~ ^[0-9a-f]{32,}$ ]]; then
    echo "siaga112-asterisk: $name must be 32 or more lowercase hex digits (openssl rand -hex 24)" >&2
    exit 1
  fi
  { grep -v "^$name=" "$secrets" || true; echo "$name=$value"; } >"$secrets.new"
  chmod 600 "$secrets.new"
  mv "$secrets.new" "$secrets"
done

bash "$conf/install.sh" >/dev/null

chown -R asterisk:asterisk /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/run/asterisk
exec asterisk -f -U asterisk -G asterisk -vvv
