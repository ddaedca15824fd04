#!/usr/bin/env bash
# A Jupyter kernel in the 3.9 root that tests/kernel39/run.sh builds (Debian 11's CPython 3.9.2,
# the ModelArts kernel stack and our wheel in /opt/kernel): the Jupyter server stays on the host,
# as on ModelArts, where JupyterLab runs from its own environment and the kernel in the image's
# Python. Use it as a kernelspec's argv:
#
#   {"argv": ["bash", "/path/to/tests/kernel39/kernel.sh", "{connection_file}"], ...}
#
# The connection file is bind-mounted into the root at the same absolute path, so the kernel's
# command line names the same file (and whatever temp dir it lives in) as a native kernel's would,
# and its HMAC key is never written to the root's disk (an empty placeholder is, outside /tmp).
# Mounts (/proc, the file, a private tmpfs on the root's /tmp) exist only in the kernel's own
# mount namespace, so they vanish when the kernel exits, even on kill -9. Every step execs, so the pid the server holds is the kernel itself and an
# interrupt (SIGINT) reaches it. Needs root (unshare -m, mount, chroot).
#
# The environment is cleared, except PATH, HOME, LANG, the MODELARTS_* and HUAWEICLOUD_*
# variables (HUAWEICLOUD_SDK_CREDENTIALS_FILE is a path: it must exist inside the root too) and
# JPY_PARENT_PID (the kernel exits when the server that started it dies). KERNEL39_DIR moves the
# root as it does for run.sh.
set -euo pipefail
if [ $# != 1 ]; then
  echo "usage: $0 CONNECTION_FILE (a kernelspec argv: [\"bash\", \"$0\", \"{connection_file}\"])" >&2
  exit 2
fi
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${KERNEL39_DIR:-$TOP/.kernel39}/root
file=$1
case $file in /*) ;; *) file=$PWD/$file ;; esac

fail() { echo "kernel39 kernel: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (unshare -m, mount and chroot into $ROOT)"
[ -x "$ROOT/usr/bin/python3.9" ] && [ -f "$ROOT/opt/kernel/pyvenv.cfg" ] \
  || fail "no 3.9 kernel in $ROOT: build it with: sudo make kernel39"
[ -f "$file" ] || fail "no connection file $file"

pass=(PATH=/opt/kernel/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8)
while IFS= read -r name; do
  case $name in
    MODELARTS_* | HUAWEICLOUD_* | JPY_PARENT_PID) pass+=("$name=${!name}") ;;
  esac
done < <(compgen -e)

# unshare without --fork execs sh in this very process; sh execs chroot, chroot env, env python.
exec unshare --mount --propagation private sh -ec '
  root=$1 file=$2; shift 2
  mount --bind /proc "$root/proc"
  mount -t tmpfs -o mode=1777 kernel39-tmp "$root/tmp"
  mkdir -p "$root$(dirname "$file")"
  touch "$root$file"
  mount --bind "$file" "$root$file"
  exec chroot "$root" /usr/bin/env -i "$@" /opt/kernel/bin/python -m ipykernel_launcher -f "$file"
' kernel39 "$ROOT" "$file" "${pass[@]}"
