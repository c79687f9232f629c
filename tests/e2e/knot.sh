# shellcheck shell=bash
# knot.sh - a private Knot DNS server for tests, sourced by e2e scenarios
# (and usable from unit tests through `bash -c '. knot.sh; knot_start ...'`).
#
#   knot_start DIR ADDR PORT [ZONE...]
#       Writes DIR/knot.conf and starts knotd on ADDR@PORT (UDP and TCP),
#       with its own rundir, database and log under DIR (the system's Knot
#       is never touched). Serves each ZONE (default: example.test.) from
#       DIR/zones/<zone>zone: a file already there is kept, otherwise a small
#       one is written (SOA, two apex NS, one A). Waits until knotd answers
#       an SOA query for the first zone (10 s), else returns 1 and prints the
#       log tail. Prints nothing on success.
#   knot_stop DIR
#       SIGTERM, then SIGKILL after 5 s; no error if it isn't running.
#   knot_keyfile DIR
#       Prints the path of the BIND-syntax key file (mode 600) for the TSIG
#       key, as `tsig-keygen` writes it: key "NAME" { algorithm ALG; secret "..."; };
#
# Set before knot_start (all optional):
#   KNOT_KEY_NAME     TSIG key name (default tw-test-key.)
#   KNOT_KEY_ALG      hmac-sha256 (default), hmac-md5, hmac-sha1, hmac-sha224,
#                     hmac-sha384, hmac-sha512, or none
#   KNOT_KEY_SECRET   base64; default: 32 fresh random bytes per start
#   KNOT_ACL          actions the key may do: "update transfer" (default),
#                     "update", "transfer" or "" (the key is known but allowed nothing)
#   KNOT_ACL_ADDR     an address or CIDR allowed KNOT_ACL_ADDR_ACTIONS without any key
#   KNOT_ACL_ADDR_ACTIONS  default "transfer"
#   KNOT_ZONEFILE_SYNC default -1: updates stay in the journal, the zone file
#                     is never rewritten (tests compare it to the start)
# After knot_start: KNOT_PID, KNOT_CONF, KNOT_LOG, KNOT_KEY_FILE, KNOT_SERVER
# ("ADDR:PORT", "[v6]:PORT") are set. The secret is only in knot.conf and the
# key file, both mode 600; it is never printed.
#
# knotd runs as the calling user (root in e2e): the config has no `user:`, so
# it does not drop privileges and can write DIR.

_knot_list() { # "a b" -> "[a, b]"
	local out="" x
	for x in $1; do out="${out:+$out, }$x"; done
	echo "[$out]"
}

knot_keyfile() { echo "$1/tsig.key"; }

knot_start() {
	local dir=$1 addr=$2 port=$3
	shift 3 || {
		echo "usage: knot_start DIR ADDR PORT [ZONE...]" >&2
		return 2
	}
	local zones=("$@")
	[ ${#zones[@]} -gt 0 ] || zones=(example.test.)
	local kname=${KNOT_KEY_NAME:-tw-test-key.} kalg=${KNOT_KEY_ALG:-hmac-sha256}
	local ksecret=${KNOT_KEY_SECRET:-} acl=${KNOT_ACL-update transfer}
	local z zf
	mkdir -p "$dir/run" "$dir/db" "$dir/zones" || return 1
	dir=$(cd "$dir" && pwd)
	KNOT_CONF=$dir/knot.conf
	KNOT_LOG=$dir/knot.log
	KNOT_KEY_FILE=$dir/tsig.key
	case $addr in
	*:*) KNOT_SERVER="[$addr]:$port" ;;
	*) KNOT_SERVER="$addr:$port" ;;
	esac
	[ -n "$ksecret" ] || ksecret=$(head -c 32 /dev/urandom | base64 -w0)

	for z in "${zones[@]}"; do
		[[ $z == *. ]] || z=$z.
		zf=$dir/zones/${z}zone
		[ -s "$zf" ] && continue
		cat >"$zf" <<EOF
\$ORIGIN $z
\$TTL 300
@	SOA	ns1 hostmaster 1 3600 900 604800 300
@	NS	ns1
@	NS	ns2
ns1	A	127.0.0.1
ns2	A	127.0.0.2
www	A	192.0.2.10
EOF
	done

	local keysec="" aclsec="" zacl=()
	(
		umask 077
		: >"$KNOT_CONF"
		: >"$KNOT_KEY_FILE"
	)
	if [ "$kalg" != none ]; then
		keysec="key:
  - id: $kname
    algorithm: $kalg
    secret: $ksecret
"
		printf 'key "%s" {\n\talgorithm %s;\n\tsecret "%s";\n};\n' "${kname%.}" "$kalg" "$ksecret" >"$KNOT_KEY_FILE"
		if [ -n "$acl" ]; then
			aclsec+="  - id: acl_key
    key: $kname
    action: $(_knot_list "$acl")
"
			zacl+=(acl_key)
		fi
	fi
	if [ -n "${KNOT_ACL_ADDR:-}" ]; then
		aclsec+="  - id: acl_addr
    address: $KNOT_ACL_ADDR
    action: $(_knot_list "${KNOT_ACL_ADDR_ACTIONS:-transfer}")
"
		zacl+=(acl_addr)
	fi
	[ -n "$aclsec" ] && aclsec="acl:
$aclsec"
	{
		cat <<EOF
# Private Knot instance for a tailwart test (tests/e2e/knot.sh).
server:
  rundir: "$dir/run"
  pidfile: "$dir/run/knot.pid"
  listen: $addr@$port
  tcp-reuseport: off
database:
  storage: "$dir/db"
log:
  - target: "$KNOT_LOG"
    any: info
$keysec$aclsec
template:
  - id: default
    storage: "$dir/zones"
    file: "%s.zone"
    zonefile-sync: ${KNOT_ZONEFILE_SYNC:--1}
    zonefile-load: whole
    journal-content: changes
    semantic-checks: off
zone:
EOF
		for z in "${zones[@]}"; do
			[[ $z == *. ]] || z=$z.
			echo "  - domain: $z"
			[ ${#zacl[@]} -gt 0 ] && echo "    acl: $(_knot_list "${zacl[*]}")"
		done
	} >>"$KNOT_CONF"
	if ! knotc -c "$KNOT_CONF" conf-check >"$dir/conf-check.log" 2>&1; then
		echo "knot_start: knot.conf refused:" >&2
		sed 's/secret: .*/secret: (hidden)/' "$dir/conf-check.log" >&2
		return 1
	fi
	knotd -c "$KNOT_CONF" >>"$KNOT_LOG" 2>&1 </dev/null &
	KNOT_PID=$!
	echo "$KNOT_PID" >"$dir/knotd.pid"
	local i z0=${zones[0]}
	[[ $z0 == *. ]] || z0=$z0.
	for ((i = 0; i < 100; i++)); do
		if kdig +short +time=1 +retry=0 -p "$port" "@$addr" SOA "$z0" 2>/dev/null | grep -q .; then
			return 0
		fi
		kill -0 "$KNOT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "knot_start: knotd did not answer for $z0 on $KNOT_SERVER:" >&2
	tail -n 20 "$KNOT_LOG" >&2
	knot_stop "$dir"
	return 1
}

knot_stop() {
	local dir=$1 pid i
	[ -n "$dir" ] || {
		echo "usage: knot_stop DIR" >&2
		return 2
	}
	pid=$(cat "$dir/knotd.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] || return 0
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	rm -f "$dir/knotd.pid"
	return 0
}
