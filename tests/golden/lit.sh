#!/usr/bin/env bash
# A minimal lit: runs each "RUN:" line of a test file with substitutions
#   %s  the test file      %S  its directory      %t  a temporary path for this test
#   %quarc  the quarc tool %FileCheck  LLVM's FileCheck
# Lines ending in "\" continue on the next RUN: line. A RUN line fails the test if its
# pipeline fails (pipefail). Usage: lit.sh TEST QUARC FILECHECK TMPDIR
set -u
test=$1 quarc=$2 filecheck=$3 tmpdir=$4
mkdir -p "$tmpdir"
base=$(basename "$test")
tmp="$tmpdir/${base%.*}.tmp"
dir=$(cd "$(dirname "$test")" && pwd)
cmd=""
status=0
n=0
while IFS= read -r line; do
  case "$line" in
    *RUN:*) ;;
    *) continue ;;
  esac
  part=${line#*RUN:}
  if [[ "$part" == *\\ ]]; then
    cmd+="${part%\\} "
    continue
  fi
  cmd+="$part"
  cmd=${cmd//%quarc/$quarc}
  cmd=${cmd//%FileCheck/$filecheck}
  cmd=${cmd//%s/$test}
  cmd=${cmd//%S/$dir}
  cmd=${cmd//%t/$tmp}
  n=$((n + 1))
  echo "RUN[$n]: $cmd"
  if ! bash -o pipefail -c "$cmd"; then
    echo "FAILED: RUN line $n of $test"
    status=1
    break
  fi
  cmd=""
done < "$test"
if [ "$n" = 0 ]; then echo "no RUN lines in $test"; exit 1; fi
exit $status
