#!/usr/bin/env bash
# Builds the native MuJoCo reference benchmark bench/native/step.c into bench/native/build/step
# (git-ignored), against the MuJoCo that mujoco-js wraps (3.3.8 for mujoco-js 0.0.7), so native
# and wasm figures compare one engine version.
#
# Where MuJoCo comes from, first found:
#   MUJOCO_DIR=/path/to/mujoco   a MuJoCo build or release with include/mujoco/mujoco.h and lib/libmujoco.so
#   /opt/mujoco-3.3.8            the same, unpacked there
#   the system                   e.g. Debian's libmujoco-dev (MuJoCo 2.2.2: too old for sim/pick_place.xml)
# Override the compiler with CC, add flags with CFLAGS / LDFLAGS.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/build"
cc="${CC:-gcc}"
cflags="${CFLAGS:-}"
ldflags="${LDFLAGS:-}"
mujoco_dir="${MUJOCO_DIR:-}"
if [[ -z "$mujoco_dir" && -d /opt/mujoco-3.3.8 ]]; then
  mujoco_dir=/opt/mujoco-3.3.8
fi
if [[ -n "$mujoco_dir" ]]; then
  if [[ ! -f "$mujoco_dir/include/mujoco/mujoco.h" ]]; then
    echo "build.sh: MUJOCO_DIR=$mujoco_dir has no include/mujoco/mujoco.h: point it at a MuJoCo build with include/ and lib/" >&2
    exit 1
  fi
  cflags="$cflags -I$mujoco_dir/include"
  ldflags="$ldflags -L$mujoco_dir/lib -Wl,-rpath,$mujoco_dir/lib"
fi

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build.sh: C compiler '$cc' not found (install gcc)" >&2
  exit 1
fi

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf '#include <mujoco/mujoco.h>\nint main(void) { return mj_version() > 0 ? 0 : 1; }\n' > "$probe/probe.c"
# shellcheck disable=SC2086
if ! "$cc" $cflags -E "$probe/probe.c" -o /dev/null 2>/dev/null; then
  echo "build.sh: MuJoCo header <mujoco/mujoco.h> not found: unpack MuJoCo 3.3.8 to /opt/mujoco-3.3.8 or set MUJOCO_DIR" >&2
  exit 1
fi
# shellcheck disable=SC2086
if ! "$cc" $cflags "$probe/probe.c" -o "$probe/probe" $ldflags -lmujoco 2>"$probe/link.log"; then
  echo "build.sh: cannot link against the MuJoCo library (-lmujoco): unpack MuJoCo 3.3.8 to /opt/mujoco-3.3.8 or set MUJOCO_DIR" >&2
  sed 's/^/  /' "$probe/link.log" >&2
  exit 1
fi

mkdir -p "$out"
# shellcheck disable=SC2086
"$cc" -O2 -Wall -Wextra -std=c11 -D_POSIX_C_SOURCE=199309L $cflags "$here/step.c" -o "$out/step" $ldflags -lmujoco -lm
echo "built $out/step"
