#!/usr/bin/env bash
# Builds the native MuJoCo reference benchmark bench/native/step.c into bench/native/build/step
# (git-ignored). Needs MuJoCo's C header and library: on Debian/Ubuntu `apt-get install libmujoco-dev`
# (Debian 12 ships MuJoCo 2.2.2). Override the compiler with CC, add flags with CFLAGS / LDFLAGS
# (e.g. CFLAGS=-I/opt/mujoco/include LDFLAGS=-L/opt/mujoco/lib for a MuJoCo release tarball).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
cc="${CC:-gcc}"
cflags="${CFLAGS:-}"
ldflags="${LDFLAGS:-}"

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build.sh: C compiler '$cc' not found (install gcc)" >&2
  exit 1
fi

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <mujoco/mujoco.h>\nint main(void) { return mj_version() > 0 ? 0 : 1; }\n' > "$probe/probe.c"
# shellcheck disable=SC2086
if ! "$cc" $cflags -E "$probe/probe.c" -o /dev/null 2>/dev/null; then
  echo "build.sh: MuJoCo header <mujoco/mujoco.h> not found: install libmujoco-dev (apt-get install libmujoco-dev)" >&2
  exit 1
fi
# shellcheck disable=SC2086
if ! "$cc" $cflags "$probe/probe.c" -o "$probe/probe" $ldflags -lmujoco 2>"$probe/link.log"; then
  echo "build.sh: cannot link against the MuJoCo library (-lmujoco): install libmujoco-dev (apt-get install libmujoco-dev)" >&2
  sed 's/^/  /' "$probe/link.log" >&2
  exit 1
fi

mkdir -p "$out"
# shellcheck disable=SC2086
"$cc" -O2 -Wall -Wextra -std=c11 -D_POSIX_C_SOURCE=199309L $cflags "$here/step.c" -o "$out/step" $ldflags -lmujoco -lm
echo "built $out/step"
