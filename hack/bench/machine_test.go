package main

import (
	"testing"
	"time"
)

// TestParseCPUTimes reads busy, idle and steal time from the cpu line of
// /proc/stat and refuses text without one.
func TestParseCPUTimes(t *testing.T) {
	const stat = "cpu  11845 42241 11310 10202 571 3 92 491 7 0\ncpu0 5922 21120 5655 5101 285 1 46 245 3 0\nintr 1\n"
	got, err := parseCPUTimes([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Second / clockTicks
	want := cpuTimes{Busy: (11845 + 42241 + 11310 + 3 + 92) * tick, Idle: (10202 + 571) * tick, Steal: 491 * tick}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu 1 2 3\n", "cpu 1 2 3 4 5 6 x 8\n"} {
		if _, err := parseCPUTimes([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestMachineClockPhase reads this machine: a phase's figures are within
// what a machine can do, and the calibration is timed.
func TestMachineClockPhase(t *testing.T) {
	var m machineClock
	before := m.atStart()
	if before.CalibrationCPUMs <= 0 || before.CalibrationWallMs <= 0 || before.MemoryWalkCPUMs <= 0 || before.MemoryWalkWallMs <= 0 {
		t.Fatalf("calibration before start not timed: %+v", before)
	}
	pm, ok := m.phaseEnd("test")
	if !ok {
		t.Fatal("/proc/stat not read")
	}
	if pm.Phase != "test" || pm.WallSeconds <= 0 || pm.CalibrationCPUMs <= 0 || pm.MemoryWalkCPUMs <= 0 {
		t.Errorf("phase not measured: %+v", pm)
	}
	if pm.BusyCores < 0 || pm.StealPercent < 0 || pm.StealPercent > 100 {
		t.Errorf("figures out of range: %+v", pm)
	}
}
