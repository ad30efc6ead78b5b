#!/usr/bin/env bash
# Vendored from the workplace's shared/containers/stand-in-images.sh so that CI (.ci/run), which runs
# on a clean clone where shared/ may not sit beside it, can prepare podman the same way. Two local
# additions, marked `clickvote:`, make podman run on a host like this one: iptables for netavark, and
# runc where crun refuses the host's hybrid cgroup layout.
#
# Builds local stand-ins for the public base images that this machine cannot pull (no access to
# container registries), so the real Dockerfile and compose.yaml can be built and run with podman.
#
#   scripts/containers/stand-in-images.sh [Dockerfile] [compose.yaml]
#
# Every image reference in the Dockerfile's FROM lines and compose.yaml's image: lines that names
# node, postgres or redis gets a local image under exactly that name, made from Debian bookworm
# packages (debootstrap) plus this machine's Node.js build. They are stand-ins, not the official
# images: PostgreSQL is Debian's 15 and Redis Debian's 7.0 whatever tag they carry. They honour the
# same contracts that the official images document and that compose files rely on:
#   node      node and npm on PATH, a `node` user with uid 1000, /etc/ssl/certs trusted by npm
#   postgres  POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB on first start, data in
#             /var/lib/postgresql/data, pg_isready on PATH, listens on 5432, stops cleanly on SIGTERM
#   redis     redis-server and redis-cli on PATH, working directory /data, `redis-server ARGS…` as command
#
# Also installs podman, podman-compose and aardvark-dns when missing, and sets the one podman
# option this kind of machine needs (no default ulimits: the VM refuses to raise them).
# Idempotent: a second run reuses the root file system and skips images that exist.
# Use `podman build --format docker` so HEALTHCHECK is kept.
set -euo pipefail

dockerfile=${1:-Dockerfile}
compose=${2:-compose.yaml}
cache=${STAND_IN_CACHE:-/var/tmp/stand-in-images}
mkdir -p "$cache"

log() { printf 'stand-in-images: %s\n' "$*"; }

# clickvote: a hybrid cgroup host (v1 controllers, and one left on the cgroup2 hierarchy) makes crun
# refuse every container ("cgroups in hybrid mode not supported"); runc runs there.
hybrid_cgroups=false runtime_package=
if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then hybrid_cgroups=true runtime_package=runc; fi
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null; }
if ! command -v podman >/dev/null || ! command -v podman-compose >/dev/null || ! command -v debootstrap >/dev/null \
  || ! command -v iptables >/dev/null || { $hybrid_cgroups && ! command -v runc >/dev/null; }; then
  log "installing podman, podman-compose, aardvark-dns, debootstrap, iptables $runtime_package"
  apt-get update -qq
  # clickvote: netavark sets up container networks with iptables, which --no-install-recommends leaves out.
  apt_install podman podman-compose aardvark-dns netavark debootstrap uidmap iptables $runtime_package
fi
mkdir -p /etc/containers
conf=/etc/containers/containers.conf
if ! grep -qs 'default_ulimits' "$conf"; then
  if grep -qs '^\[containers\]' "$conf"; then sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
  else printf '[containers]\ndefault_ulimits = []\n' >>"$conf"; fi
fi
if $hybrid_cgroups && ! grep -qs '^runtime *= *"runc"' "$conf"; then
  log "hybrid cgroups: podman runs containers with runc"
  if grep -qs '^\[engine\]' "$conf"; then sed -i '/^\[engine\]/a runtime = "runc"' "$conf"
  else printf '\n[engine]\nruntime = "runc"\n' >>"$conf"; fi
fi

# The image references to provide.
refs=()
[ -f "$dockerfile" ] && while read -r ref; do refs+=("$ref"); done < <(awk 'toupper($1)=="FROM"{print $2}' "$dockerfile")
[ -f "$compose" ] && while read -r ref; do refs+=("$ref"); done < <(sed -nE 's/^[[:space:]]*image:[[:space:]]*["]?([^"#[:space:]]+).*/\1/p' "$compose")
wanted=()
for ref in "${refs[@]}"; do
  case "${ref##*/}" in node:*|postgres:*|redis:*) wanted+=("$ref") ;; esac
done
[ ${#wanted[@]} -gt 0 ] || { log "no node, postgres or redis image named in $dockerfile or $compose"; exit 0; }
mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | sort -u)
todo=()
for ref in "${wanted[@]}"; do
  full=$ref; [[ $ref == */* ]] || full=docker.io/library/$ref
  podman image exists "$full" || todo+=("$full")
done
[ ${#todo[@]} -gt 0 ] || { log "all stand-ins present: ${wanted[*]}"; exit 0; }

# One Debian root file system, reused by every stand-in.
rootfs=$cache/rootfs
if [ ! -x "$rootfs/bin/sh" ]; then
  mirror=$(sed -nE 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
  log "debootstrap bookworm (about a minute)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
# As in Debian's official images: apt keeps no downloaded packages in image layers.
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
APT
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

# Makes one image from a copy of the root file system, prepared by a function given the copy.
make_image() {
  local name=$1 prepare=$2; shift 2
  local work=$cache/work-$$
  rm -rf "$work"; cp -a "$rootfs" "$work"
  "$prepare" "$work"
  tar -C "$work" -c . | podman import "$@" - "$name" >/dev/null
  rm -rf "$work"
  log "built $name"
}

prepare_node() {
  local r=$1
  cp "$(readlink -f "$(command -v node)")" "$r/usr/bin/node"
  mkdir -p "$r/usr/lib"
  cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/../.." "$r/usr/lib/node_modules"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/bin/npx"
  chroot "$r" /bin/sh -c 'id node >/dev/null 2>&1 || { groupadd -g 1000 node && useradd -u 1000 -g node -s /bin/bash -m node; }'
}

prepare_redis() {
  local r=$1
  chroot "$r" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/*'
  mkdir -p "$r/data"
  cat >"$r/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Like the official image: a bare option list or nothing runs redis-server with it.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then shift; set -- redis-server --bind 0.0.0.0 --protected-mode no --dir /data "$@"; fi
exec "$@"
SH
  chmod +x "$r/usr/local/bin/docker-entrypoint.sh"
}

prepare_postgres() {
  local r=$1
  chroot "$r" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null && rm -rf /var/lib/apt/lists/*'
  for tool in pg_isready psql pg_dump pg_restore; do ln -sf "/usr/lib/postgresql/15/bin/$tool" "$r/usr/local/bin/$tool"; done
  cat >"$r/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# The official image's first-start contract: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB.
set -e
bin=/usr/lib/postgresql/15/bin
data=${PGDATA:-/var/lib/postgresql/data}
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
mkdir -p "$data" /var/run/postgresql
chown -R postgres:postgres "$data" /var/run/postgresql
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "POSTGRES_PASSWORD is required" >&2; exit 1; }
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile
  chown postgres /tmp/pwfile
  su postgres -s /bin/sh -c "$bin/initdb -D '$data' -U '$user' --pwfile=/tmp/pwfile --auth-host=scram-sha-256 --auth-local=trust" >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >>"$data/pg_hba.conf"
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$data' -o '-c listen_addresses=' -w start" >/dev/null
  [ "$db" = postgres ] || su postgres -s /bin/sh -c "$bin/psql -U '$user' -d postgres -v ON_ERROR_STOP=1 -c 'CREATE DATABASE \"$db\"'" >/dev/null
  su postgres -s /bin/sh -c "$bin/pg_ctl -D '$data' -m fast -w stop" >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" -c listen_addresses='*'
SH
  chmod +x "$r/usr/local/bin/docker-entrypoint.sh"
}

for full in "${todo[@]}"; do
  case "${full##*/}" in
    node:*) make_image "$full" prepare_node --change 'CMD ["node"]' --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' ;;
    redis:*) make_image "$full" prepare_redis --change 'WORKDIR /data' --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'CMD ["redis-server"]' --change 'EXPOSE 6379' ;;
    postgres:*) make_image "$full" prepare_postgres --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'EXPOSE 5432' --change 'STOPSIGNAL SIGINT' ;;
  esac
done
log "ready: ${wanted[*]} (local stand-ins; see the top of this script)"
