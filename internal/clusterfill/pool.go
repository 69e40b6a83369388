package clusterfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
)

// forEach calls fn for every index in [0, n) from at most workers goroutines
// and returns the first error, after which no new index is started.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	if n <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

// transientBackoff spaces retries of a request that failed for a reason that
// may pass: about 3 s in all, which rides out a busy API server without
// hiding a dead one.
var transientBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 5}

// withRetry calls fn until it succeeds, fails permanently, or
// transientBackoff is exhausted. client-go already retries 429 responses
// that carry Retry-After; this covers throttling without it, server
// timeouts and connections lost under load.
func withRetry(ctx context.Context, fn func(ctx context.Context) error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, transientBackoff, func(ctx context.Context) (bool, error) {
		last = fn(ctx)
		switch {
		case last == nil:
			return true, nil
		case isTransient(last):
			return false, nil
		default:
			return false, last
		}
	})
	if err != nil && ctx.Err() == nil && last != nil && isTransient(last) {
		return fmt.Errorf("giving up after %d tries: %w", transientBackoff.Steps, last)
	}
	return err
}

func isTransient(err error) bool {
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// progress counts finished objects and, if it has a writer, prints one line
// per interval from its own goroutine.
type progress struct {
	w        io.Writer
	label    string
	total    int64
	done     atomic.Int64
	start    time.Time
	interval time.Duration
	stop     chan struct{}
	stopped  sync.WaitGroup
}

func startProgress(w io.Writer, label string, total int, interval time.Duration) *progress {
	p := &progress{w: w, label: label, total: int64(total), start: time.Now(), interval: interval, stop: make(chan struct{})}
	if w == nil {
		return p
	}
	p.stopped.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		lastDone, lastTime := int64(0), p.start
		for {
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				done := p.done.Load()
				rate := float64(done-lastDone) / now.Sub(lastTime).Seconds()
				p.print(done, now, fmt.Sprintf("%.0f/s now, ", rate))
				lastDone, lastTime = done, now
			}
		}
	})
	return p
}

func (p *progress) add(n int) { p.done.Add(int64(n)) }

func (p *progress) print(done int64, now time.Time, extra string) {
	elapsed := now.Sub(p.start)
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(done) / float64(p.total)
	}
	// Write errors are ignored: progress is a courtesy, not a result.
	_, _ = fmt.Fprintf(p.w, "%s: %d/%d objects (%.1f%%), %s%.0f/s average, elapsed %v\n",
		p.label, done, p.total, pct, extra, float64(done)/max(elapsed.Seconds(), 1e-9), elapsed.Round(100*time.Millisecond))
}

// finish stops the ticker and prints a final line.
func (p *progress) finish() {
	close(p.stop)
	p.stopped.Wait()
	if p.w != nil {
		p.print(p.done.Load(), time.Now(), "done, ")
	}
}
