#!/usr/bin/env bash
# `cmake --install` puts the headers, both libraries, the tool and quarc.pc under a
# prefix, and a program builds against them with pkg-config (shared and static).
# Usage: check_install.sh BUILD_DIR CC
set -euo pipefail
build=$1 cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
pc=$(find "$tmp/prefix" -name quarc.pc | head -1)
test -n "$pc" || { echo "quarc.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
test -x "$tmp/prefix/bin/quarc" || { echo "the quarc tool was not installed"; exit 1; }
"$tmp/prefix/bin/quarc" version
cat > "$tmp/use.c" <<'C'
#include <quarc/quarc.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  qc_graph *g;
  qc_status s = qc_graph_create(NULL, &g);
  if (s) return 1;
  qc_graph_destroy(g);
  printf("%s %s\n", qc_version(), qc_dtype_name(QC_F8E4M3FN));
  return strcmp(qc_dtype_name(QC_F8E4M3FN), "f8e4m3fn") != 0;
}
C
libdir=$(pkg-config --variable=libdir quarc)
$cc "$tmp/use.c" -o "$tmp/use" $(pkg-config --cflags --libs quarc) -Wl,-rpath,"$libdir"
"$tmp/use"
$cc "$tmp/use.c" -o "$tmp/use_static" $(pkg-config --cflags quarc) "$libdir/libquarc.a" \
    $(pkg-config --static --libs quarc | sed 's/-lquarc//')
"$tmp/use_static"
echo "install ok"
