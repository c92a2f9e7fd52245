#!/bin/sh
# The hardware-path tests, run inside the VM of `make hil` by its init (busybox sh). Each test
# prints one line the host harness (tools/hil/run.py) reads:
#   HIL-RESULT PASS name
#   HIL-RESULT FAIL name: what was seen
# Everything goes through ringlab's real backends: libiio's local backend on the kernel's IIO
# simple dummy driver and hrtimer trigger, libgpiod on gpio-sim's character device.

board=/hil/vm-dummy.yaml
cfg=/sys/kernel/config
out=/tmp/out
err=/tmp/err

pass() { echo "HIL-RESULT PASS $1"; }
fail() { echo "HIL-RESULT FAIL $1: $2"; }
# The stderr of the last command, folded to one line, for a failure's detail.
said() { tr '\n' ' ' <"$err" | cut -c1-400; }

# --- The simulated devices, made through configfs -------------------------------------------

setup() {
    mkdir "$cfg/iio/triggers/hrtimer/ring_clock" || return 1
    mkdir "$cfg/iio/devices/dummy/ring_adc" || return 1
    mkdir "$cfg/iio/devices/dummy/ring_dac" || return 1
    chip="$cfg/gpio-sim/ring"
    mkdir "$chip" "$chip/bank0" || return 1
    echo ring-gpio >"$chip/bank0/label"
    echo 8 >"$chip/bank0/num_lines"
    offset=0
    for name in amp_enable loop_close scope_trigger interlock spare; do
        mkdir "$chip/bank0/line$offset"
        echo "$name" >"$chip/bank0/line$offset/name"
        offset=$((offset + 1))
    done
    echo 1 >"$chip/live" || return 1
    # gpio-sim's sysfs, where each line's value can be read and its input pulled.
    sim="/sys/devices/platform/$(cat "$chip/dev_name")/$(cat "$chip/bank0/chip_name")"
    # The interlock contact closed (safe): pull the active-low input up.
    echo pull-up >"$sim/sim_gpio3/pull"
    for device in /sys/bus/iio/devices/iio:device*; do
        [ "$(cat "$device/name")" = ring_adc ] && dummy=$device
        [ "$(cat "$device/name")" = ring_dac ] && dac=$device
    done
    for device in /sys/bus/iio/devices/trigger*; do
        [ "$(cat "$device/name")" = ring_clock ] && trigger=$device
    done
    [ -n "$dummy" ] && [ -n "$dac" ] && [ -n "$trigger" ] && [ -d "$sim" ]
}

if setup; then
    pass configfs-setup
else
    fail configfs-setup "configfs did not make the dummy, the trigger and the gpio-sim chip"
    exit 0
fi

# --- ringlab info lists the real devices and lines and checks the board file ----------------

if ringlab info --board "$board" >"$out" 2>"$err"; then
    missing=""
    for word in ring_adc ring_dac ring_clock ring-gpio amp_enable interlock 'held by "ringlab"' "the board is in its safe state"; do
        grep -q "$word" "$out" || missing="$missing [$word]"
    done
    if [ -z "$missing" ]; then pass info-lists-devices-and-lines; else fail info-lists-devices-and-lines "missing$missing"; fi
else
    fail info-lists-devices-and-lines "exit $?: $(said)"
fi

# --- The ADC through libiio's local backend: trigger, rate, buffer, scale ---------------------

if ringlab info --board "$board" --read 64 >"$out" 2>"$err"; then
    current=$(cat "$dummy/trigger/current_trigger")
    rate=$(cat "$trigger/sampling_frequency")
    rate=${rate%%.*}
    # The dummy's buffer holds code 7 and the kernel's scale is (code + 7) x 0.001333 mV:
    # 1.8662e-05 V at every sample.
    if ! grep -q "64 samples at 1000 Hz, min 1.8662e-05 V, mean 1.8662e-05 V, max 1.8662e-05 V" "$out"; then
        fail adc-buffer-through-local-backend "samples: $(grep 'ADC:' "$out")"
    elif [ "$current" != ring_clock ]; then
        fail adc-buffer-through-local-backend "current_trigger is \"$current\", expected ring_clock"
    elif [ "$rate" != 1000 ]; then
        fail adc-buffer-through-local-backend "the trigger's sampling_frequency is $rate, expected 1000"
    else
        pass adc-buffer-through-local-backend
    fi
else
    fail adc-buffer-through-local-backend "exit $?: $(said)"
fi

# --- The DAC through its raw attribute (the dummy has no buffered output) --------------------

echo 1234 >"$dac/out_voltage0_raw"
if ringlab safe --board "$board" >"$out" 2>"$err"; then
    raw=$(cat "$dac/out_voltage0_raw")
    if [ "$raw" = 0 ]; then pass dac-raw-held-at-safe-level; else fail dac-raw-held-at-safe-level "out_voltage0_raw is $raw, expected 0"; fi
else
    fail dac-raw-held-at-safe-level "exit $?: $(said)"
fi

# --- A run: outputs driven, read back through gpio-sim; the interlock stops it ---------------

value() { cat "$sim/sim_gpio$1/value"; }
ringlab run --board "$board" --seconds 60 --json >"$out" 2>"$err" &
runner=$!
# Wait for the run to close the loop (amp_enable and loop_close asserted), at most 10 s.
waited=0
while [ "$(value 0)$(value 1)" != 11 ] && [ $waited -lt 100 ] && kill -0 $runner 2>/dev/null; do
    sleep 0.1
    waited=$((waited + 1))
done
during="$(value 0)$(value 1)"
dac_during=$(cat "$dac/out_voltage0_raw")
sleep 1
dac_later=$(cat "$dac/out_voltage0_raw")
if [ "$during" = 11 ]; then
    pass gpio-outputs-driven-during-run
else
    fail gpio-outputs-driven-during-run "amp_enable/loop_close read $during through gpio-sim, expected 11; $(said)"
fi
# The drive is 1.0 V + 0.5 V x tanh(a): codes from 13107 (0.5 V) to 39322 (1.5 V) at 2.5 V / 65536.
if [ "$dac_during" -ge 13107 ] && [ "$dac_during" -le 39322 ] && [ "$dac_later" -ge 13107 ] && [ "$dac_later" -le 39322 ]; then
    pass dac-paced-raw-stream-during-run
else
    fail dac-paced-raw-stream-during-run "out_voltage0_raw read $dac_during then $dac_later"
fi

# A second process asks for a line the run holds: one clear line.
if ringlab info --board "$board" >/dev/null 2>"$err"; then
    fail busy-line-one-clear-line "info succeeded while the run held the lines"
elif [ "$(wc -l <"$err")" = 1 ] && grep -q "amp_enable" "$err" && grep -qi "busy" "$err"; then
    pass busy-line-one-clear-line
else
    fail busy-line-one-clear-line "stderr: $(said)"
fi

# Open the interlock contact (pull the active-low input down), then watch the amplifier line
# from outside: the loop checks the interlock once a period, so the amplifier must be off within
# one period (200 ms at 50 nodes x 4 samples and 1 kHz). /proc/uptime ticks in 10 ms.
centiseconds() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}"; }
edge=$(centiseconds)
echo pull-down >"$sim/sim_gpio3/pull"
# Shell builtins only in the loop (no process per read: under TCG a fork costs tens of ms).
amp=1
now=$edge
while [ "$amp" = 1 ] && [ $((now - edge)) -lt 500 ]; do
    read -r amp <"$sim/sim_gpio0/value"
    read -r up _ </proc/uptime
    now="${up%.*}${up#*.}"
done
off_ms=$(((now - edge) * 10))
waited=0
while kill -0 $runner 2>/dev/null && [ $waited -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
done
if kill -0 $runner 2>/dev/null; then
    kill -9 $runner
    fail interlock-stops-run "the run was still going 5 s after the interlock opened"
else
    wait $runner
    after="$(value 0)$(value 1)"
    dac_after=$(cat "$dac/out_voltage0_raw")
    # The loop checks the interlock once a period; ringlab times the edge (the kernel's
    # timestamp of it) to the safe state's last step. Within one period: 200 ms.
    reaction=$(grep -o '"interlock_to_safe_ms" *: *[0-9.]*' "$out" | grep -o '[0-9.]*$')
    if ! grep -q '"safe_reason" *: *"interlock"' "$out"; then
        fail interlock-stops-run "report: $(tr '\n' ' ' <"$out" | cut -c1-300) $(said)"
    elif [ -z "$reaction" ] || [ "${reaction%.*}" -ge 200 ]; then
        fail interlock-stops-run "edge to safe state ${reaction:-not reported} ms, over one period (200 ms)"
    elif [ "$after" != 00 ]; then
        fail interlock-stops-run "amp_enable/loop_close read $after after the stop, expected 00"
    elif [ "$dac_after" != 0 ]; then
        fail interlock-stops-run "out_voltage0_raw is $dac_after after the stop, expected the safe code 0"
    else
        pass "interlock-stops-run (edge to safe state ${reaction} ms by the kernel's edge timestamp; amplifier line seen off ${off_ms} ms after the write, to 10 ms, from the shell; period 200 ms)"
    fi
fi
echo pull-up >"$sim/sim_gpio3/pull"

# --- Clear errors: a missing device, a wrong channel ----------------------------------------

sed 's/device: ring_dac/device: no_such_dac/' "$board" >/tmp/missing.yaml
if ringlab info --board /tmp/missing.yaml >/dev/null 2>"$err"; then
    fail missing-device-one-clear-line "info succeeded"
elif [ "$(wc -l <"$err")" = 1 ] && grep -q '"no_such_dac"' "$err" && grep -q "ring_dac" "$err"; then
    pass missing-device-one-clear-line
else
    fail missing-device-one-clear-line "stderr: $(said)"
fi

awk '/^adc:/ {adc=1} adc && /channel: voltage0/ {sub(/voltage0/, "voltage9"); adc=0} {print}' "$board" >/tmp/channel.yaml
if ringlab info --board /tmp/channel.yaml >/dev/null 2>"$err"; then
    fail wrong-channel-one-clear-line "info succeeded"
elif [ "$(wc -l <"$err")" = 1 ] && grep -q '"voltage9"' "$err"; then
    pass wrong-channel-one-clear-line
else
    fail wrong-channel-one-clear-line "stderr: $(said)"
fi

# --- What per-sample interrupts sustain: the hrtimer trigger into the dummy's buffer ----------
# Not a pass/fail test: the kernel's own sysfs interface (no ringlab), the rate asked of the
# hrtimer trigger against the samples that reach /dev/iio:deviceN in 2 s. docs/linux-io.md's
# rate table quotes these lines; a Raspberry Pi adds an SPI transfer to every sample.
name=$(basename "$dummy")
echo 0 >"$dummy/buffer/enable" 2>/dev/null
for element in "$dummy"/scan_elements/*_en; do echo 0 >"$element"; done
echo 1 >"$dummy/scan_elements/in_voltage0_en"
echo ring_clock >"$dummy/trigger/current_trigger"
echo 4096 >"$dummy/buffer/length"
for rate in 1000 10000 50000 100000 200000; do
    echo "$rate" >"$trigger/sampling_frequency"
    echo 1 >"$dummy/buffer/enable"
    timeout 2 cat "/dev/$name" >/tmp/samples 2>/dev/null
    echo 0 >"$dummy/buffer/enable"
    bytes=$(wc -c </tmp/samples)
    echo "HIL-MEASURE hrtimer-trigger requested $rate Hz delivered $((bytes / 4)) samples/s"
done
