#!/usr/bin/env bash
# The installable tool (issue 17): the man page renders without warnings and documents every option each
# subcommand's --help lists; the bash, zsh and fish completions parse and offer them too; `cmake --install` puts
# binary, man page, completions and docs in their FHS places; `cpack -G DEB` makes a package that carries them and
# lists its runtime dependencies. Usage: installable.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
wgbpf=$build/wgbpf
passed=0 failures=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --version
[[ $("$wgbpf" --version) =~ ^wgbpf\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || fail "--version: $("$wgbpf" --version)"

# The man page: built, no groff/man warnings.
if [[ ! -f $build/wgbpf.8 ]]; then
  fail "no man page in $build (scdoc missing? scripts/setup.sh installs it)"
else
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$build/wgbpf.8" 2>&1 >/dev/null)
  [[ -z $warnings ]] && ok || fail "man --warnings: $warnings"
fi

# Every long option of every subcommand (and the global ones) in the man page and each completion.
options_of() { "$wgbpf" "$@" --help | grep -oE -- '--[a-z][a-z-]*' | grep -v -- '--help' | sort -u; }
for sub in "" watch top replay compare diagnose; do
  for opt in $(options_of $sub); do
    grep -q -- "\\*$opt\\*\\|$opt" "$src/man/wgbpf.8.scd" && ok || fail "man page lacks ${sub:-wgbpf} $opt"
    for c in wgbpf.bash _wgbpf wgbpf.fish; do
      word=$opt
      [[ $c == wgbpf.fish ]] && word="-l ${opt#--}"
      grep -q -- "$word" "$src/completions/$c" && ok || fail "completions/$c lacks ${sub:-wgbpf} $opt"
    done
  done
done

# The completions parse.
bash -n "$src/completions/wgbpf.bash" && ok || fail "bash completion does not parse"
if command -v zsh >/dev/null; then zsh -n "$src/completions/_wgbpf" && ok || fail "zsh completion does not parse"
else fail "no zsh to check the zsh completion (scripts/setup.sh installs it)"; fi
if command -v fish >/dev/null; then fish --no-execute "$src/completions/wgbpf.fish" && ok || fail "fish completion does not parse"
else fail "no fish to check the fish completion (scripts/setup.sh installs it)"; fi

# cmake --install: FHS places.
if DESTDIR=$scratch/root cmake --install "$build" --prefix /usr >"$scratch/install.log" 2>&1; then
  for f in usr/sbin/wgbpf usr/share/man/man8/wgbpf.8 usr/share/bash-completion/completions/wgbpf \
           usr/share/zsh/vendor-completions/_wgbpf usr/share/fish/vendor_completions.d/wgbpf.fish \
           usr/share/doc/wgbpf/README.md usr/share/doc/wgbpf/json-schema.md; do
    [[ -f $scratch/root/$f ]] && ok || fail "cmake --install did not place /$f"
  done
  "$scratch/root/usr/sbin/wgbpf" --version >/dev/null && ok || fail "the installed binary does not run"
else
  fail "cmake --install failed: $(tail -3 "$scratch/install.log")"
fi

# cpack -G DEB: the package carries the same files and names its runtime libraries.
if (cd "$scratch" && cpack -G DEB --config "$build/CPackConfig.cmake" >cpack.log 2>&1); then
  deb=$(ls "$scratch"/wgbpf_*.deb 2>/dev/null | head -1)
  if [[ -z $deb ]]; then fail "cpack made no .deb"
  else
    contents=$(dpkg-deb -c "$deb")
    for f in ./usr/sbin/wgbpf ./usr/share/man/man8/wgbpf.8 ./usr/share/bash-completion/completions/wgbpf; do
      grep -q " $f\$" <<<"$contents" && ok || fail "the package lacks $f"
    done
    depends=$(dpkg-deb -f "$deb" Depends)
    for lib in libbpf1 libnftables1 libpcap0.8 libmnl0; do
      grep -q "$lib" <<<"$depends" && ok || fail "the package does not depend on $lib: $depends"
    done
  fi
else
  fail "cpack -G DEB failed: $(tail -3 "$scratch/cpack.log")"
fi

echo "$passed passed, $failures failed"
[[ $failures -eq 0 ]]
