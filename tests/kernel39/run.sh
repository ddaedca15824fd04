#!/usr/bin/env bash
# The 3.9 kernel suite: our wheel installed into the kernel ModelArts images ship, in a real
# CPython 3.9 (Debian 11's 3.9.2 in a debootstrapped root under .kernel39/, gitignored).
#
#   bash tests/kernel39/run.sh               # build the root if needed, then test (or: make kernel39)
#   bash tests/kernel39/run.sh --if-possible # what `make test` runs: without root or debootstrap it
#                                            # says so in one line (and fails when CI=true)
#   bash tests/kernel39/run.sh --bench       # `make bench`: import and first-panel figures on 3.9
#   bash tests/kernel39/run.sh --prepare     # only build the root and install the kernel; then
#   bash tests/kernel39/run.sh --suite       # only the suite but its `serial` tests, and
#   bash tests/kernel39/run.sh --serial      # only those, one at a time: `make test` runs the suite
#                                            # beside the host's, and the serial ones last, alone
#                                            # (--if-possible goes first)
#
# First build: debootstrap (~60 s) plus a venv /opt/stack with the kernel stack below (~60 s),
# stamped so later runs skip both. Every run then copies /opt/stack to a fresh /opt/kernel,
# records `pip freeze`, installs only the wheel built from this checkout, records it again (the
# freeze comparison is tests/kernel39/test_install.py), adds the test tools under a constraint
# that pins everything already there, and runs the tests with Python 3.9 against the *installed*
# package (the source tree is not copied in). Mounts (/proc) live in a private mount namespace
# (unshare -m), so they vanish when the run ends, even on failure or kill -9.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
DIR=${KERNEL39_DIR:-$TOP/.kernel39}
ROOT=$DIR/root
# As the mindspore1.7.0 notebook image ships them (docs/modelarts-api.md §11.2), numpy at the last 3.9 wheel of 1.19.
STACK="ipykernel==6.7.0 ipython==7.34.0 pandas==1.1.5 numpy==1.19.5 ipywidgets==7.6.5 jupyter-client==7.3.4 tornado==6.1"
TOOLS="pytest pytest-xdist hypothesis nbformat nbclient huaweicloudsdkcore==3.1.219 huaweicloudsdkmodelarts==3.1.219"
# pytest-xdist workers (as `make test`'s WORKERS): the suite mostly waits on sandboxes and kernels
WORKERS=${KERNEL39_WORKERS:-6}
# Suites that need nothing but the package and its tools; tests/browser runs on the host.
TESTS="tests"  # a folder, so that conftest may leave files out (pytest never does for named ones)

missing_prerequisite() {
  [ "$(id -u)" = 0 ] || { echo "needs root (debootstrap and chroot)"; return; }
  for tool in debootstrap chroot unshare; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install debootstrap)"; return; }
  done
}

debian_mirror() {  # the mirror apt already uses (deb822 or one-line sources)
  local uri
  uri=$(grep -hoE '(URIs:|^deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Run a command inside the root with /proc mounted and a clean environment (PyPI through the
# host's CA bundle and proxy settings, nothing else of the host's pip configuration).
in_root() {
  local pass=(PATH=/opt/kernel/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 CI="${CI:-}"
              PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
              PIP_DEFAULT_TIMEOUT=180 PYTHONDONTWRITEBYTECODE=1)
  for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL; do
    [ -n "${!name:-}" ] && pass+=("$name=${!name}")
  done
  unshare --mount --propagation private sh -ec \
    'mount --bind /proc "$0/proc"; exec chroot "$0" /usr/bin/env -i "$@"' "$ROOT" "${pass[@]}" "$@"
}

build_root() {
  if [ ! -x "$ROOT/usr/bin/python3.9" ]; then
    local mirror t0=$SECONDS
    mirror=$(debian_mirror)
    echo "kernel39: debootstrap bullseye from $mirror into $ROOT"
    rm -rf "$ROOT"; mkdir -p "$DIR"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bullseye "$ROOT" "$mirror" > "$DIR/debootstrap.log" 2>&1 \
      || { tail -n 20 "$DIR/debootstrap.log"; echo "kernel39: debootstrap failed"; exit 1; }
    echo "kernel39: root ready in $((SECONDS - t0)) s"
  fi
  cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
  # debootstrap leaves no /etc/hosts; every container a kernel runs in resolves localhost
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
  if [ "$(cat "$ROOT/opt/stack/.stack" 2>/dev/null)" != "$STACK" ]; then
    local t0=$SECONDS
    echo "kernel39: kernel stack: $STACK"
    in_root sh -ec "rm -rf /opt/stack; python3 -m venv /opt/stack
      /opt/stack/bin/python -m pip install -q 'pip==24.*'
      /opt/stack/bin/python -m pip install -q $STACK
      echo '$STACK' > /opt/stack/.stack"
    echo "kernel39: stack ready in $((SECONDS - t0)) s"
  fi
}

# A fresh /opt/kernel: the stack, then the wheel of this checkout, then the test tools.
install_kernel() {
  local work=$ROOT/work
  rm -rf "$work"; mkdir -p "$work/dist"
  python3 -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/dist" . 2>&1 \
    | grep -v "^WARNING: Location" || true
  cp -r tests notebooks benchmarks pyproject.toml "$work/"
  # the browser and theme tests need JupyterLab, and the command's terminal tests a
  # pseudo-terminal (/dev/pts is not mounted in the root): host only. So are the files that
  # touch no notebook stack (MODELARTS_NB_TESTS=stacks leaves out conftest's STACKLESS_FILES).
  rm -rf "$work/tests/browser" "$work/tests/test_theme_contrast.py" \
    "$work/tests/test_command_terminal.py"
  in_root sh -ec "
    rm -rf /opt/kernel; cp -a /opt/stack /opt/kernel; cd /work
    grep -lI /opt/stack /opt/kernel/bin/* | xargs sed -i 's|/opt/stack|/opt/kernel|g'  # shebangs
    python -m pip freeze --all > freeze-before.txt
    python -m pip install -q dist/modelarts_nb-*.whl
    python -m pip freeze --all > freeze-after.txt
    python -m pip install -q -c freeze-after.txt $TOOLS"
}

# $1: pytest options that select the tests, $2: which files (tests/conftest.py). Bytecode may be
# written here: /work is new each install, and each xdist worker would else rewrite every test
# module's asserts again.
run_suite() {
  in_root sh -ec "cd /work
    python -c 'import sys; print(\"kernel39: Python\", sys.version.split()[0])'
    rc=0; KERNEL39_FREEZE=/work MODELARTS_NB_TESTS=$2 PYTHONDONTWRITEBYTECODE= \\
      python -m pytest -q -p no:cacheprovider $1 $TESTS || rc=\$?
    [ \$rc = 0 ] || [ \$rc = 5 ]  # 5: no test selected (no serial test among these)"
}
PARALLEL="-n $WORKERS -m 'not serial'"
SERIAL="-m serial"

if_possible=false
if [ "${1:-}" = --if-possible ]; then if_possible=true; shift; fi
step=${1:-all}  # all, --prepare, --suite, --serial or --bench
if reason=$(missing_prerequisite) && [ -n "$reason" ]; then
  if $if_possible && [ "${CI:-}" != true ]; then
    case $step in --prepare | --serial) ;;  # said once, by --suite
      *) echo "The 3.9 kernel suite did not run ($reason); run it with: sudo make kernel39" ;; esac
    exit 0
  fi
  if [ "$step" = --bench ]; then  # `make bench` as a plain user: the 3.11 figures stand
    echo "No 3.9 figures ($reason); as root: bash tests/kernel39/run.sh --bench"
    exit 0
  fi
  echo "kernel39: cannot run the 3.9 kernel suite: $reason"
  exit 1
fi
t0=$SECONDS
case $step in
  --suite | --serial)
    if [ ! -f "$ROOT/opt/kernel/pyvenv.cfg" ] || [ ! -d "$ROOT/work/tests" ]; then
      echo "kernel39: no kernel installed in $ROOT: run tests/kernel39/run.sh --prepare first"
      exit 1
    fi ;;
  *) build_root; install_kernel; echo "kernel39: root and kernel ready in $((SECONDS - t0)) s" ;;
esac
case $step in
  --prepare) exit 0 ;;
  --bench) in_root sh -ec "cd /work && python -m benchmarks --only imports,first_panel"; exit 0 ;;
  --suite) run_suite "$PARALLEL" stacks ;;
  --serial) run_suite "$SERIAL" stacks+serial ;;
  *) run_suite "$PARALLEL" stacks; run_suite "$SERIAL" stacks+serial ;;
esac
echo "kernel39: done in $((SECONDS - t0)) s"
