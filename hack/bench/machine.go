package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The bench runs every process on one machine, often a virtual one that
// shares its host. A run whose machine was slower than another's, because
// the host gave its CPUs to others (steal) or ran them at a lower speed,
// shows every figure worse, peers included. The bench measures that instead
// of leaving it to be inferred from the peers: the machine's CPU time per
// phase from /proc/stat, and a fixed amount of work timed at the start of
// the run and at the end of each phase.

// cpuTimes is the machine's CPU time, summed over its CPUs, from the first
// line of /proc/stat.
type cpuTimes struct {
	// Busy is user, nice, system, irq and softirq time (guest time is
	// part of user), Idle is idle and iowait time, and Steal is time the
	// hypervisor ran something else while this machine's CPUs had work.
	Busy, Idle, Steal time.Duration
}

func readCPUTimes() (cpuTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPUTimes(data)
}

// parseCPUTimes reads the "cpu" line of /proc/stat text: user nice system
// idle iowait irq softirq steal [guest guest_nice], in clock ticks.
func parseCPUTimes(stat []byte) (cpuTimes, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	fs := strings.Fields(string(line))
	if len(fs) < 9 || fs[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks [8]int64
	for i := range ticks {
		v, err := strconv.ParseInt(fs[i+1], 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("/proc/stat: field %d of %q: %w", i+1, line, err)
		}
		ticks[i] = v
	}
	d := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	const user, nice, system, idle, iowait, irq, softirq, steal = 0, 1, 2, 3, 4, 5, 6, 7
	return cpuTimes{
		Busy:  d(ticks[user] + ticks[nice] + ticks[system] + ticks[irq] + ticks[softirq]),
		Idle:  d(ticks[idle] + ticks[iowait]),
		Steal: d(ticks[steal]),
	}, nil
}

// calibrationBlocks × 1 MiB is what calibrate hashes: about a fifth of a
// second of one CPU on the machines the bench has run on.
const calibrationBlocks = 256

// calibrationWalkEntries is the size of the table calibrate's memory walk
// reads at random: 4 B entries, 64 MiB, beyond the CPU caches of the
// machines the bench runs on, and calibrationSteps is how many dependent
// reads it makes.
const (
	calibrationWalkEntries = 16 << 20
	calibrationSteps       = 2 << 20
)

// calibration is what calibrate measured: thread CPU time and wall time of
// each fixed piece of work.
type calibration struct {
	hashCPU, hashWall time.Duration
	memCPU, memWall   time.Duration
}

// calibrate does two fixed amounts of single-threaded work and times each:
// SHA-256 over calibrationBlocks MiB, which runs from the CPU's caches, and
// a walk of dependent reads at random places in 64 MiB, which waits on
// memory as a garbage collector's marking or a large informer's lookups
// do. Their CPU times grow when the machine's CPUs or memory are slower or
// stolen from; their wall times also when other processes compete for the
// CPUs.
func calibrate() (c calibration, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i)
	}
	c.hashCPU, c.hashWall, err = timeOnThread(func() {
		h := sha256.New()
		for range calibrationBlocks {
			h.Write(block)
		}
		_ = h.Sum(nil)
	})
	if err != nil {
		return c, err
	}
	// A single cycle through every entry (Sattolo's shuffle), so that each
	// read depends on the one before and no prefetcher can guess it.
	next := make([]uint32, calibrationWalkEntries)
	for i := range next {
		next[i] = uint32(i)
	}
	rng := uint64(88172645463325252)
	for i := len(next) - 1; i > 0; i-- {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		j := int(rng % uint64(i))
		next[i], next[j] = next[j], next[i]
	}
	var at uint32
	c.memCPU, c.memWall, err = timeOnThread(func() {
		for range calibrationSteps {
			at = next[at]
		}
	})
	runtime.KeepAlive(at)
	return c, err
}

// timeOnThread runs work and returns the CPU time of the calling thread
// and the wall time it took. The caller has locked its goroutine to the
// thread.
func timeOnThread(work func()) (cpu, wall time.Duration, err error) {
	var start, end unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &start); err != nil {
		return 0, 0, fmt.Errorf("reading the thread's CPU time: %w", err)
	}
	began := time.Now()
	work()
	wall = time.Since(began)
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &end); err != nil {
		return 0, 0, fmt.Errorf("reading the thread's CPU time: %w", err)
	}
	return time.Duration(end.Nano() - start.Nano()), wall, nil
}

// PhaseMachine is what the machine did during one phase of the run.
type PhaseMachine struct {
	Phase       string  `json:"phase"`
	WallSeconds float64 `json:"wallSeconds"`
	// BusyCores is the machine's busy CPU time over the phase's wall time:
	// how many of its CPUs its processes kept busy on average.
	BusyCores float64 `json:"busyCores"`
	// StealPercent is the time the hypervisor ran something else while
	// this machine's CPUs had work, in percent of all their time.
	StealPercent float64 `json:"stealPercent"`
	// CalibrationCPUMs and CalibrationWallMs time calibrate's hashing at
	// the end of the phase, with the cluster still running, and
	// MemoryWalkCPUMs and MemoryWalkWallMs its memory walk (zero in the
	// runs before the walk existed).
	CalibrationCPUMs  float64 `json:"calibrationCPUMs"`
	CalibrationWallMs float64 `json:"calibrationWallMs"`
	MemoryWalkCPUMs   float64 `json:"memoryWalkCPUMs,omitempty"`
	MemoryWalkWallMs  float64 `json:"memoryWalkWallMs,omitempty"`
}

// setCalibration records what calibrate measured.
func (pm *PhaseMachine) setCalibration(c calibration) {
	pm.CalibrationCPUMs, pm.CalibrationWallMs = ms(c.hashCPU), ms(c.hashWall)
	pm.MemoryWalkCPUMs, pm.MemoryWalkWallMs = ms(c.memCPU), ms(c.memWall)
}

// machineClock follows the machine's CPU time from one phase's end to the
// next.
type machineClock struct {
	last   cpuTimes
	lastAt time.Time
	ok     bool
}

// atStart times calibrate's work on the machine before the bench starts
// any process, the reference for the figures of each phase, and starts
// the clock of the first phase.
func (m *machineClock) atStart() PhaseMachine {
	pm := PhaseMachine{Phase: phaseBeforeStart}
	if c, err := calibrate(); err == nil {
		pm.setCalibration(c)
	}
	m.start()
	return pm
}

// phaseBeforeStart names the calibration atStart takes.
const phaseBeforeStart = "before start (no process running)"

// start reads the machine's CPU time at the start of a phase.
func (m *machineClock) start() {
	t, err := readCPUTimes()
	m.last, m.lastAt, m.ok = t, time.Now(), err == nil
}

// phaseEnd returns what the machine did since the previous call (or
// start), then times calibrate's work, which the next phase does not
// count. ok is false when /proc/stat could not be read.
func (m *machineClock) phaseEnd(phase string) (pm PhaseMachine, ok bool) {
	now, err := readCPUTimes()
	at := time.Now()
	if err != nil || !m.ok {
		m.start()
		return pm, false
	}
	busy, idle, steal := now.Busy-m.last.Busy, now.Idle-m.last.Idle, now.Steal-m.last.Steal
	pm = PhaseMachine{Phase: phase, WallSeconds: at.Sub(m.lastAt).Seconds()}
	if pm.WallSeconds > 0 {
		pm.BusyCores = busy.Seconds() / pm.WallSeconds
	}
	if all := busy + idle + steal; all > 0 {
		pm.StealPercent = 100 * steal.Seconds() / all.Seconds()
	}
	if c, err := calibrate(); err == nil {
		pm.setCalibration(c)
	}
	m.start()
	return pm, true
}
