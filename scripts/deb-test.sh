#!/usr/bin/env bash
# scripts/deb-test.sh — `make deb`: builds the Debian package
# postgresql-15-autoenc from the committed tree and tests it installed.
#
#   1. versions  autoenc.control, META.json and debian/changelog agree
#   2. build     git archive HEAD into a temporary directory (uncommitted
#                changes are not in the package, the work tree is not
#                touched) and dpkg-buildpackage -us -uc -b there
#   3. install   autoenc files already on the system (from `make install`)
#                are saved, then the .deb is installed with dpkg -i
#   4. check     dpkg -L lists the control file, install script and module
#                where pg_config says the server looks; dpkg --verify finds
#                them unchanged before and after; CREATE EXTENSION reports
#                the version; the pg_regress suite of the same commit passes
#                against the installed package in a throwaway cluster
#   5. restore   the package is purged and the saved files are put back, so
#                a `make install` from before is in place again; the cluster
#                and the temporary directory are removed
#
# The tested .deb is copied to build/deb/.  If postgresql-15-autoenc was
# already installed as a package, step 5 leaves this build installed instead.
#
#   bash scripts/deb-test.sh             all of the above (root or sudo)
#   bash scripts/deb-test.sh --versions  step 1 only (used by `make dist`)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$AE_ROOT"

# ae_check_versions: the release version is autoenc.control's default_version;
# META.json (top level and provides) and debian/changelog must say the same,
# and the files META.json names must exist.
ae_check_versions() {
    local control changelog
    control=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" autoenc.control)
    [ -n "$control" ] || { echo "no default_version in autoenc.control" >&2; return 1; }
    perl -MJSON::PP -e '
        my ($want) = @ARGV;
        open my $fh, "<", "META.json" or die "META.json: $!\n";
        my $m = eval { JSON::PP->new->decode(do { local $/; <$fh> }) }
            or die "META.json is not valid JSON: $@";
        my @err;
        for (qw(name abstract version maintainer license provides meta-spec)) {
            push @err, "META.json: no \"$_\"" unless exists $m->{$_};
        }
        my $p = $m->{provides}{autoenc} || {};
        push @err, "META.json version $m->{version} != autoenc.control $want"
            unless ($m->{version} // "") eq $want;
        push @err, "META.json provides.autoenc.version " . ($p->{version} // "none") . " != $want"
            unless ($p->{version} // "") eq $want;
        push @err, "META.json provides.autoenc.file should be sql/autoenc--$want.sql"
            unless ($p->{file} // "") eq "sql/autoenc--$want.sql";
        for my $f (grep defined, $p->{file}, $p->{docfile}) {
            push @err, "META.json names $f, which does not exist" unless -f $f;
        }
        push @err, "META.json meta-spec version is not 1.0.2"
            unless ($m->{"meta-spec"}{version} // "") eq "1.0.2";
        print STDERR "$_\n" for @err;
        exit(@err ? 1 : 0);
    ' "$control" || return 1
    changelog=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
    if [ "${changelog%-*}" != "$control" ]; then
        echo "debian/changelog version $changelog does not match autoenc.control $control" >&2
        return 1
    fi
    echo "versions agree: $control (autoenc.control, META.json, debian/changelog $changelog)"
}

if [ "${1:-}" = --versions ]; then
    ae_check_versions
    exit
fi

started=$SECONDS
ae_log "Debian package check 1/5: versions"
ae_check_versions || exit 1
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" autoenc.control)
pkg=postgresql-$AE_PG_MAJOR-autoenc

ae_install_packages build-essential dpkg-dev debhelper libopenblas-dev \
    "postgresql-$AE_PG_MAJOR" "postgresql-server-dev-$AE_PG_MAJOR" postgresql-server-dev-all \
    || exit 1

work=
we_installed=false
ae_deb_cleanup() {
    ae_cluster_stop
    if $we_installed; then
        we_installed=false
        # a file someone replaced while the check ran (another `make install`)
        # is newer than what was saved: keep it
        local changed=() f
        while read -r f; do
            [ -e "$f" ] && changed+=("${f#/}")
        done < <(dpkg --verify "$pkg" 2>/dev/null | awk '{ print $NF }')
        [ ${#changed[@]} -gt 0 ] && tar -C / -cpf "$work/changed.tar" "${changed[@]}"
        ae_log "Debian package check 5/5: purging $pkg, putting back the files it replaced"
        ae_sudo dpkg --purge "$pkg" >/dev/null
        [ -f "$work/saved.tar" ] && ae_sudo tar -C / -xpf "$work/saved.tar"
        [ -f "$work/changed.tar" ] && ae_sudo tar -C / -xpf "$work/changed.tar"
    fi
    [ -n "$work" ] && rm -rf "$work"
    work=
}
trap ae_deb_cleanup EXIT
trap 'exit 130' INT TERM

work=$(mktemp -d "${TMPDIR:-/tmp}/autoenc-deb.XXXXXX")
chmod 755 "$work"
src=$work/autoenc-$version
ae_log "Debian package check 2/5: dpkg-buildpackage -us -uc -b of HEAD ($(git rev-parse --short HEAD)) in $work"
git diff --quiet HEAD -- 2>/dev/null \
    || echo "note: the work tree has uncommitted changes; they are not in the package"
git archive --prefix="autoenc-$version/" HEAD | tar -x -C "$work" || exit 1
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$work/build.log" 2>&1; then
    tail -n 60 "$work/build.log"
    echo "dpkg-buildpackage failed" >&2
    exit 1
fi
deb=$(ls "$work/${pkg}_${version}"-*_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
[ -n "$deb" ] || { echo "no ${pkg}_${version}-*.deb was built" >&2; ls "$work" >&2; exit 1; }
echo "built $(basename "$deb") in $((SECONDS - started))s"

depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
bad=0
for dep in "postgresql-$AE_PG_MAJOR" libopenblas0; do
    grep -Eq "(^|, )$dep( |,|$)" <<<"$depends" || { echo "Depends lacks $dep" >&2; bad=1; }
done
[ $bad -eq 0 ] || exit 1

ae_log "Debian package check 3/5: installing it with dpkg -i"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    echo "note: $pkg $(dpkg-query -W -f='${Version}' "$pkg") is installed; it is upgraded to this build and stays installed"
else
    # what the package is about to overwrite, to put back afterwards
    saved=()
    while read -r f; do
        [ -f "/$f" ] && saved+=("$f")
    done < <(dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -n 's|^\./||p' | grep -v '/$')
    if [ ${#saved[@]} -gt 0 ]; then
        echo "saving ${#saved[@]} autoenc files already installed (from make install)"
        tar -C / -cpf "$work/saved.tar" "${saved[@]}" || exit 1
    fi
    we_installed=true
fi
ae_sudo dpkg -i "$deb" >/dev/null || exit 1

ae_log "Debian package check 4/5: installed files, CREATE EXTENSION, pg_regress"
pkglibdir=$("$AE_PG_CONFIG" --pkglibdir)
extdir=$("$AE_PG_CONFIG" --sharedir)/extension
listed=$(dpkg -L "$pkg")
for f in "$extdir/autoenc.control" "$extdir/autoenc--$version.sql" "$pkglibdir/autoenc.so"; do
    if grep -qxF "$f" <<<"$listed" && [ -f "$f" ]; then
        echo "ok  $f"
    else
        echo "MISSING from the package: $f" >&2
        bad=1
    fi
done
unverified=$(dpkg --verify "$pkg")
[ -z "$unverified" ] || { echo "dpkg --verify after install:" >&2; echo "$unverified" >&2; bad=1; }
if ldd "$pkglibdir/autoenc.so" | grep -q 'not found'; then
    ldd "$pkglibdir/autoenc.so" >&2
    bad=1
fi
[ $bad -eq 0 ] || exit 1

ae_cluster_start || exit 1
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE autoenc_deb' || exit 1
got=$(psql -qXAt -v ON_ERROR_STOP=1 -d autoenc_deb \
    -c 'CREATE EXTENSION autoenc' \
    -c "SELECT extversion FROM pg_extension WHERE extname = 'autoenc'") || exit 1
[ "$got" = "$version" ] || { echo "CREATE EXTENSION installed version '$got', expected $version" >&2; exit 1; }
echo "CREATE EXTENSION autoenc: version $got"

if ! make -C "$src" -s installcheck PG_CONFIG="$AE_PG_CONFIG"; then
    [ -f "$src/regression.diffs" ] && cat "$src/regression.diffs"
    echo "pg_regress failed against the installed package" >&2
    exit 1
fi
unverified=$(dpkg --verify "$pkg")
if [ -n "$unverified" ]; then
    echo "the package's files changed while pg_regress ran (another install?):" >&2
    echo "$unverified" >&2
    exit 1
fi

mkdir -p build/deb && cp "$deb" build/deb/
ae_cluster_stop
ae_deb_cleanup
trap - EXIT
ae_log "Debian package check passed in $((SECONDS - started))s: build/deb/$(basename "$deb")"
