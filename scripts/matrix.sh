#!/usr/bin/env bash
# scripts/matrix.sh — `make test-matrix`: autoenc built and tested against
# the PostgreSQL major version of each Debian release, each inside a minimal
# root of that release made by debootstrap from Debian's archive.
#
#   release    PostgreSQL   root
#   bookworm   15           the host's own: scripts/test.sh tests it there
#                           (a root of it: bash scripts/matrix.sh bookworm)
#   trixie     17           /var/cache/autoenc-matrix/trixie-<key>
#   sid        18           /var/cache/autoenc-matrix/sid-<key>
#
# For each release: the root is made once and cached outside the repository,
# keyed by the release and the package list it gets (a changed list makes a
# new root; the old one is removed).  Every run starts from the cached root
# unchanged: the run writes into an overlay on top of it, thrown away after.
# Into the overlay go the source tree (tracked and untracked files that git
# does not ignore, uncommitted changes included) and a fresh build of it
# (-Werror); then scripts/lib.sh's ae_run_core_suites runs the unit tests,
# pg_regress, pgTAP and the scoring check against a throwaway cluster of that
# release's PostgreSQL and the Perl TAP tests on clusters of their own,
# exactly as scripts/test.sh does on the host.  In the trixie root the
# Debian package is also built (pg_buildext, dpkg-buildpackage).
#
#   bash scripts/matrix.sh                  trixie and sid
#   bash scripts/matrix.sh trixie bookworm  the releases named
#   bash scripts/matrix.sh --roots [...]    only make the roots (no tests)
#
# Environment:
#   AE_MATRIX_CACHE        where the roots are kept (/var/cache/autoenc-matrix)
#   AE_MATRIX_CACHED_ONLY  1: skip a release whose root is not made yet
#   AE_MATRIX_REFRESH      1: make the roots anew even when cached
#   AE_MATRIX_MIRROR       the Debian archive to use; default: the first
#                          non-security URI in the host's apt sources
#   AE_MATRIX_SECURITY_MIRROR  the security archive; default: the host's
#                          (empty: none)
#   AE_MATRIX_TRIES        attempts to reach an archive (4), waiting 30 s,
#                          then 60 s, 120 s between them
#   AE_MATRIX_TIMEOUT      seconds one release's build and tests may take (1500)
#
# Needs root (debootstrap, mount, chroot).  Everything runs in a private
# mount namespace, so no mount outlives the script even when it is killed;
# the mounts are also undone, and the chroot's processes ended, on every
# exit path.  Exits non-zero when a release could not be tested or a build
# or test failed on any of them.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"

# The one table of releases and their PostgreSQL: release:major:suites.
# A stable release's PostgreSQL minor versions come as security updates (a
# minor release can change what a test sees), so its root has the security
# and updates suites, as the host has its own; unstable has neither.
# Debian 11 (PostgreSQL 13) is not among them: src/ae_compat.h says why.
AE_MATRIX_RELEASES=(bookworm:15:security trixie:17:security sid:18:main)
# bookworm's 15 is the host's: scripts/test.sh tests it there.
AE_MATRIX_DEFAULT=(trixie sid)
# The release whose root also builds the Debian package.
AE_MATRIX_DEB_RELEASE=trixie
# Bump when the way a root is made changes: a new key, so new roots.
AE_MATRIX_ROOT_FORMAT=2

AE_MATRIX_CACHE=${AE_MATRIX_CACHE:-/var/cache/autoenc-matrix}
AE_MATRIX_TRIES=${AE_MATRIX_TRIES:-4}
AE_MATRIX_TIMEOUT=${AE_MATRIX_TIMEOUT:-1500}

# ae_matrix_field RELEASE N: field N of RELEASE's entry (2 major, 3 suites)
ae_matrix_field() {
    local r
    for r in "${AE_MATRIX_RELEASES[@]}"; do
        [ "${r%%:*}" = "$1" ] && { cut -d: -f"$2" <<<"$r"; return 0; }
    done
    return 1
}
ae_matrix_major() { ae_matrix_field "$1" 2; }

# ae_matrix_mirror [security]: the Debian archive the host's apt uses
# (deb822 sources first, then sources.list), or its security archive.
ae_matrix_mirror() {
    local security=0
    [ "${1:-}" = security ] && security=1
    if [ $security = 0 ] && [ -n "${AE_MATRIX_MIRROR:-}" ]; then
        echo "$AE_MATRIX_MIRROR"
        return 0
    elif [ $security = 1 ] && [ -n "${AE_MATRIX_SECURITY_MIRROR+set}" ]; then
        echo "$AE_MATRIX_SECURITY_MIRROR"
        return 0
    fi
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk -v want=$security '
            function flush() { if (uri != "" && deb && (suites ~ /-security/) == want && !found) { print uri; found = 1 } uri = ""; deb = 0; suites = "" }
            /^[[:space:]]*$/ { flush(); next }
            /^Types:/  { deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
            /^URIs:/   { uri = $2 }
            /^Suites:/ { suites = $0 }
            END { flush() }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk -v want=$security '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if (($(i + 1) ~ /-security/) == want) { print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    [ $security = 1 ] && return 0   # none: the roots go without
    echo "no Debian archive found in the host's apt sources; set AE_MATRIX_MIRROR" >&2
    return 1
}

# ae_matrix_packages RELEASE: what the root of RELEASE gets.
ae_matrix_packages() {
    local major
    major=$(ae_matrix_major "$1") || return 1
    ae_base_packages "$major"
    printf '%s\n' python3 python3-numpy
    [ "$1" = "$AE_MATRIX_DEB_RELEASE" ] && printf '%s\n' dpkg-dev debhelper postgresql-server-dev-all
    return 0
}

ae_matrix_key() {
    { echo "format $AE_MATRIX_ROOT_FORMAT"; echo "release $1 $(ae_matrix_field "$1" 3)"
      ae_matrix_packages "$1" | sort -u; } \
        | sha256sum | cut -c1-12
}

# ae_retry WHAT CMD...: CMD, tried AE_MATRIX_TRIES times with growing pauses.
ae_retry() {
    local what=$1 try=1 pause=30
    shift
    while :; do
        "$@" && return 0
        [ "$try" -ge "$AE_MATRIX_TRIES" ] && break
        echo "$what failed (attempt $try of $AE_MATRIX_TRIES); again in ${pause}s" >&2
        sleep "$pause"
        try=$((try + 1)) pause=$((pause * 2))
    done
    echo "$what failed $AE_MATRIX_TRIES times" >&2
    return 1
}

# ---------------------------------------------------------------- mounts
AE_MATRIX_MOUNTS=()

ae_matrix_mount() {
    mount "$@" && AE_MATRIX_MOUNTS+=("${!#}")
}

# ae_matrix_mount_system DIR: what programs in the root need of the kernel.
# /dev is the host's; /dev/shm (PostgreSQL's dynamic shared memory) is a
# private tmpfs on top of it.
ae_matrix_mount_system() {
    ae_matrix_mount -t proc proc "$1/proc" \
        && ae_matrix_mount --bind /dev "$1/dev" \
        && ae_matrix_mount -t tmpfs -o mode=1777,size=1g shm "$1/dev/shm"
}

# ae_matrix_end_processes DIR: end what still runs with DIR as its root (a
# server left by an interrupted run), by process id.
ae_matrix_end_processes() {
    local dir p pids=()
    dir=$(readlink -f "$1") || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && pids+=("${p#/proc/}")
    done
    [ ${#pids[@]} -eq 0 ] && return 0
    echo "ending processes still running in $dir: ${pids[*]}" >&2
    kill -KILL "${pids[@]}" 2>/dev/null
    sleep 1
}

# ae_matrix_unmount_all: undo the mounts, last first.
ae_matrix_unmount_all() {
    local i
    for ((i = ${#AE_MATRIX_MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${AE_MATRIX_MOUNTS[i]}" 2>/dev/null || umount -l "${AE_MATRIX_MOUNTS[i]}"
    done
    AE_MATRIX_MOUNTS=()
}

# ae_matrix_remove DIR: rm -rf that cannot cross into a mount left inside DIR.
ae_matrix_remove() {
    [ -n "$1" ] && [ -e "$1" ] || return 0
    if awk -v d="$(readlink -f "$1")/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
        echo "not removing $1: something is still mounted inside it" >&2
        return 1
    fi
    rm -rf --one-file-system "$1"
}

# ---------------------------------------------------------------- roots
# ae_matrix_make_root RELEASE DIR: debootstrap RELEASE, then its packages.
ae_matrix_make_root() {
    local release=$1 dir=$2 mirror security tmp packages=() rc=0
    mirror=$(ae_matrix_mirror) || return 1
    security=$(ae_matrix_mirror security)
    mapfile -t packages < <(ae_matrix_packages "$release")
    tmp=$dir.new
    ae_matrix_remove "$tmp" || return 1
    ae_log "$release: making the root $dir from $mirror (a few minutes, once)"
    local started=$SECONDS
    ae_matrix_debootstrap() {
        ae_matrix_remove "$tmp" || return 1
        debootstrap --variant=minbase --components=main "$release" "$tmp" "$mirror" \
            >"$tmp.log" 2>&1 || { tail -n 20 "$tmp.log" >&2; return 1; }
    }
    ae_retry "debootstrap $release" ae_matrix_debootstrap || return 1
    rm -f "$tmp.log"

    {
        echo "deb $mirror $release main"
        if [ "$(ae_matrix_field "$release" 3)" = security ]; then
            echo "deb $mirror $release-updates main"
            [ -n "$security" ] && echo "deb $security $release-security main"
        fi
    } >"$tmp/etc/apt/sources.list"
    # No manuals or translations (nothing reads them; a smaller root).
    printf 'path-exclude=/usr/share/%s/*\n' doc man info locale \
        >"$tmp/etc/dpkg/dpkg.cfg.d/90autoenc-matrix"
    # No daemon starts inside the root, and installing a server creates no
    # cluster: the tests make their own.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 755 "$tmp/usr/sbin/policy-rc.d"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$tmp/etc/apt/apt.conf.d/90autoenc-matrix"
    cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null
    # An archive snapshot's Release files expire (unstable's within a week):
    # where the host's apt accepts that, the root's does too.
    local check_valid=
    eval "$(apt-config shell check_valid Acquire::Check-Valid-Until)"
    [ "$check_valid" = false ] && echo 'Acquire::Check-Valid-Until "false";' \
        >>"$tmp/etc/apt/apt.conf.d/90autoenc-matrix"

    ae_matrix_mount_system "$tmp" || { ae_matrix_unmount_all; return 1; }
    ae_in_root() {
        chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
    }
    ae_apt() {
        { ae_in_root apt-get -q update && ae_in_root apt-get install -y -q "$@" \
            && ae_in_root apt-get -q upgrade -y; } >"$tmp.log" 2>&1 \
            || { grep -E '^(E|W): ' "$tmp.log" | tail -n 10 >&2; return 1; }
    }
    if ! ae_retry "apt-get install postgresql-common in $release" ae_apt postgresql-common; then
        rc=1
    else
        sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' \
            "$tmp/etc/postgresql-common/createcluster.conf"
        ae_retry "apt-get install in $release" ae_apt "${packages[@]}" || rc=1
    fi
    ae_in_root apt-get clean
    ae_matrix_unmount_all
    [ $rc -eq 0 ] || return 1
    rm -f "$tmp.log"
    rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/*
    printf '%s\n' "${packages[@]}" >"$tmp/.autoenc-matrix-packages"
    mv "$tmp" "$dir" || return 1
    echo "root $dir made in $((SECONDS - started))s ($(du -sh --one-file-system "$dir" | cut -f1))"
}

# ae_matrix_root RELEASE: prints the cached root of RELEASE, making it first
# if needed; removes the roots of RELEASE with other keys.  Called with the
# release's lock held.
ae_matrix_root() {
    local release=$1 key dir old
    key=$(ae_matrix_key "$release")
    dir=$AE_MATRIX_CACHE/$release-$key
    if [ "${AE_MATRIX_REFRESH:-}" = 1 ] && [ -d "$dir" ] && [ -z "${AE_MATRIX_REFRESHED[$release]:-}" ]; then
        ae_matrix_remove "$dir" >&2 || return 1
    fi
    if [ ! -f "$dir/.autoenc-matrix-packages" ]; then
        [ "${AE_MATRIX_CACHED_ONLY:-}" = 1 ] && return 2
        ae_matrix_make_root "$release" "$dir" >&2 || return 1
        AE_MATRIX_REFRESHED[$release]=1
    fi
    for old in "$AE_MATRIX_CACHE/$release"-*; do
        [ -d "$old" ] && [ "$old" != "$dir" ] && [ "$old" != "$dir.new" ] || continue
        echo "removing $old (another package list)" >&2
        ae_matrix_remove "$old" >&2
    done
    # what a run killed outright left (no run of RELEASE holds the lock now)
    for old in "$AE_MATRIX_CACHE/run-$release".*; do
        [ -d "$old" ] && ae_matrix_remove "$old" >&2
    done
    echo "$dir"
}
declare -A AE_MATRIX_REFRESHED=()

# ---------------------------------------------------------------- one run
# ae_matrix_test RELEASE ROOT: the source tree into an overlay over ROOT,
# then scripts/matrix.sh --in-root inside it.
ae_matrix_test() {
    local release=$1 root=$2 major work rc
    major=$(ae_matrix_major "$release")
    work=$(mktemp -d "$AE_MATRIX_CACHE/run-$release.XXXXXX") || return 1
    AE_MATRIX_WORK=$work
    mkdir -p "$work/upper" "$work/work" "$work/root"
    ae_matrix_mount -t overlay overlay \
        -o "lowerdir=$root,upperdir=$work/upper,workdir=$work/work" "$work/root" \
        && ae_matrix_mount_system "$work/root" || return 1
    mkdir -p "$work/root/build/autoenc"
    git ls-files -co --exclude-standard -z \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null \
        | tar -C "$work/root/build/autoenc" -xf - || return 1
    local deb=0
    [ "$release" = "$AE_MATRIX_DEB_RELEASE" ] && deb=1
    # In the background, waited for: a signal to this script is handled at
    # once (bash runs a trap only after a foreground command has ended).
    timeout --kill-after=30 "$AE_MATRIX_TIMEOUT" \
        chroot "$work/root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LC_ALL=C.UTF-8 TMPDIR=/tmp AE_PG_MAJOR="$major" AE_MATRIX_RELEASE="$release" \
        AE_MATRIX_DEB="$deb" FUZZ_SEED="${FUZZ_SEED:-}" \
        bash /build/autoenc/scripts/matrix.sh --in-root &
    AE_MATRIX_CHILD=$!
    wait "$AE_MATRIX_CHILD"
    rc=$?
    AE_MATRIX_CHILD=
    [ $rc -eq 124 ] && echo "$release: timed out after ${AE_MATRIX_TIMEOUT}s" >&2
    ae_matrix_end_processes "$work/root"
    return $rc
}

ae_matrix_cleanup() {
    if [ -n "${AE_MATRIX_CHILD:-}" ]; then
        kill -TERM "$AE_MATRIX_CHILD" 2>/dev/null
        wait "$AE_MATRIX_CHILD" 2>/dev/null
        AE_MATRIX_CHILD=
    fi
    [ -n "${AE_MATRIX_WORK:-}" ] && ae_matrix_end_processes "$AE_MATRIX_WORK/root"
    ae_matrix_unmount_all
    [ -n "${AE_MATRIX_WORK:-}" ] && ae_matrix_remove "$AE_MATRIX_WORK"
    AE_MATRIX_WORK=
}

# ---------------------------------------------------------------- in the root
# --in-root: what runs inside a root, on its copy of the tree.
ae_matrix_in_root() {
    trap ae_cluster_stop EXIT
    trap 'exit 130' INT TERM
    ae_log "$AE_MATRIX_RELEASE: $("$AE_PG_CONFIG" --version), $(gcc --version | head -n 1)"
    failed=()
    export AE_WERROR=1          # warnings are errors, as in scripts/test.sh
    ae_build_install || exit 1
    ae_run_core_suites
    ae_cluster_stop
    if [ "${AE_MATRIX_DEB:-0}" = 1 ]; then
        ae_log "Debian package: pg_buildext updatecontrol, dpkg-buildpackage -us -uc -b"
        ae_matrix_deb || failed+=(deb)
    fi
    if [ ${#failed[@]} -ne 0 ]; then
        ae_log "$AE_MATRIX_RELEASE (PostgreSQL $AE_PG_MAJOR) FAILED: ${failed[*]}"
        exit 1
    fi
    ae_log "$AE_MATRIX_RELEASE (PostgreSQL $AE_PG_MAJOR): all suites passed"
}

# ae_matrix_deb: the package of this root's PostgreSQL, built with
# pg_buildext from a clean copy of the tree (debian/control made for the
# versions this root has, as Debian's own builds do); checks it holds the
# extension where this PostgreSQL looks and depends on this PostgreSQL.
ae_matrix_deb() {
    local src=/build/deb/autoenc version debversion pkg deb
    version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" autoenc.control)
    pkg=postgresql-$AE_PG_MAJOR-autoenc
    rm -rf /build/deb && mkdir -p "$src"
    make -s clean >/dev/null 2>&1
    tar --exclude=./results -cf - . | tar -C "$src" -xf - || return 1
    debversion=$(cd "$src" && dpkg-parsechangelog -S Version) || return 1
    (cd "$src" && pg_buildext updatecontrol && dpkg-buildpackage -us -uc -b -j2) \
        >/build/deb/build.log 2>&1 || { tail -n 60 /build/deb/build.log; return 1; }
    deb=$(ls /build/deb/"${pkg}_${debversion}"_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
    [ -n "$deb" ] || { echo "no ${pkg}_${debversion}_*.deb was built" >&2; ls /build/deb >&2; return 1; }
    local f bad=0 listing
    listing=$(dpkg-deb -c "$deb")
    for f in "$("$AE_PG_CONFIG" --sharedir)/extension/autoenc.control" \
             "$("$AE_PG_CONFIG" --sharedir)/extension/autoenc--$version.sql" \
             "$("$AE_PG_CONFIG" --pkglibdir)/autoenc.so"; do
        grep -q " \.$f\$" <<<"$listing" || { echo "MISSING from $deb: $f" >&2; bad=1; }
    done
    grep -Eq "(^|, )postgresql-$AE_PG_MAJOR( |,|$)" <<<"$(dpkg-deb -f "$deb" Depends)" \
        || { echo "Depends of $deb lacks postgresql-$AE_PG_MAJOR" >&2; bad=1; }
    [ $bad -eq 0 ] && echo "built $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
    return $bad
}

# ---------------------------------------------------------------- main
ae_matrix_main() {
    if [ "${1:-}" = --in-root ]; then
        ae_matrix_in_root
        exit
    fi

    if [ "$(id -u)" -ne 0 ]; then
        exec sudo -E bash "$0" "$@"
    fi
    # A private mount namespace: whatever happens, no mount outlives the script.
    if [ -z "${AE_MATRIX_NAMESPACE:-}" ]; then
        AE_MATRIX_NAMESPACE=1 exec unshare --mount --propagation private -- bash "$0" "$@"
    fi

    command -v debootstrap >/dev/null || ae_install_packages debootstrap || exit 1
    mkdir -p "$AE_MATRIX_CACHE" || exit 1

    roots_only=false
    [ "${1:-}" = --roots ] && { roots_only=true; shift; }
    releases=("$@")
    [ ${#releases[@]} -eq 0 ] && releases=("${AE_MATRIX_DEFAULT[@]}")
    for release in "${releases[@]}"; do
        ae_matrix_major "$release" >/dev/null \
            || { echo "unknown release $release (known: ${AE_MATRIX_RELEASES[*]})" >&2; exit 2; }
    done

    trap ae_matrix_cleanup EXIT
    trap 'exit 130' INT TERM

    failed=() skipped=() summary=()
    for release in "${releases[@]}"; do
        major=$(ae_matrix_major "$release")
        started=$SECONDS
        exec {lock}>"$AE_MATRIX_CACHE/$release.lock"
        flock -x "$lock"
        root=$(ae_matrix_root "$release")
        case $? in
            0) ;;
            2) skipped+=("$release"); summary+=("$release PostgreSQL $major: skipped (no cached root)")
               exec {lock}>&-; continue ;;
            *) failed+=("$release"); summary+=("$release PostgreSQL $major: FAILED, no root")
               exec {lock}>&-; continue ;;
        esac
        if $roots_only; then
            summary+=("$release PostgreSQL $major: root $root ($((SECONDS - started))s)")
            exec {lock}>&-
            continue
        fi
        # Others may test in this root at the same time; only making and
        # removing roots needs it alone.
        flock -s "$lock"
        made=$((SECONDS - started))
        ae_log "$release: PostgreSQL $major in $root"
        if ae_matrix_test "$release" "$root"; then
            summary+=("$release PostgreSQL $major: passed in $((SECONDS - started))s (root: ${made}s)")
        else
            failed+=("$release")
            summary+=("$release PostgreSQL $major: FAILED after $((SECONDS - started))s")
        fi
        ae_matrix_cleanup
        exec {lock}>&-
    done

    ae_log "matrix summary"
    printf '  %s\n' "${summary[@]}"
    [ ${#failed[@]} -eq 0 ] || exit 1
}

# On one line: bash has read the whole script before it runs any of it, so
# the file may change while a run goes on.
ae_matrix_main "$@"; exit $?
