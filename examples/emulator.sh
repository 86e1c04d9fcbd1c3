# Sourced by examples/local.sh and examples/walkthrough.sh (from the repository root):
#
#   . examples/emulator.sh && setup_bin && start_emulator NAME
#
# Makes a scratch directory $work. `setup_bin` sets $bin to the setup binary to run: $SETUP_BIN,
# else `setup` on PATH, else one built from this checkout with `cargo build`. `start_emulator`
# starts tests/emulator.py on a free loopback port tied to the calling script (it stops, and
# $work goes, when the script ends, however it ends), and points every AWS SDK at it with dummy
# credentials: nothing from ~/.aws is used. NAME prefixes errors.

work=$(mktemp -d)
emu_pid=
cleanup() {
    exec 3>&- || true                        # EOF on the emulator's stdin: it exits
    if [ -n "$emu_pid" ]; then
        kill "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setup_bin() {
    if [ -n "${SETUP_BIN:-}" ]; then
        bin=$SETUP_BIN
    elif bin=$(command -v setup); then
        :
    else
        echo "building setup from this checkout (cargo build); set SETUP_BIN or put setup on PATH to skip this" >&2
        cargo build
        bin=${CARGO_TARGET_DIR:-target}/debug/setup
    fi
    [ -x "$bin" ] || { echo "no setup binary at $bin (SETUP_BIN)" >&2; exit 1; }
    bin=$(realpath "$bin")
    echo "using $bin ($("$bin" --version))" >&2
}

start_emulator() {
    mkfifo "$work/emulator.stdin"
    python3 tests/emulator.py --port 0 <"$work/emulator.stdin" >"$work/emulator.out" 2>"$work/emulator.log" &
    emu_pid=$!
    exec 3>"$work/emulator.stdin"            # held open until the script exits
    port=
    for _ in $(seq 1 300); do
        if read -r word value <"$work/emulator.out" && [ "$word" = READY ]; then
            port=$value
            break
        fi
        kill -0 "$emu_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "$1: the emulator did not start; its log:" >&2
        cat "$work/emulator.log" >&2
        exit 1
    fi
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
    export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    for var in $(compgen -e | grep '^AWS_ENDPOINT_URL_' || true); do unset "$var"; done
}
