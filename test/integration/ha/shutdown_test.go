package ha

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/clusterview/clusterview/pkg/apis/clusterview/v1beta1"
	"github.com/clusterview/clusterview/test/integration/framework"
)

// TestGracefulShutdown sends SIGTERM to the leader while a create is in
// flight and a watch is open, and checks what a rolling update relies on:
// the listener closes, the in-flight request still completes, the watch
// ends instead of hanging, the Lease is released (the other replica leads
// well before the lease could have expired), and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	ctx := t.Context()
	deleteSummaries(t, "ha-inflight")
	healAfter(t)
	lead, identity, survivor := leader(ctx, t)
	leadClient := direct(t, lead)

	w := watchSummaries(ctx, t, leadClient)

	// The in-flight request: a create whose headers and first half of the
	// body arrive before SIGTERM, the second half after.
	cs := selectingSummary("ha-inflight", "inflight")
	cs.APIVersion, cs.Kind = v1beta1.SchemeGroupVersion.String(), "ClusterSummary"
	body, err := json.Marshal(cs)
	if err != nil {
		t.Fatal(err)
	}
	httpClient, err := rest.HTTPClientFor(lead.Config)
	if err != nil {
		t.Fatal(err)
	}
	baseline := executingExempt(ctx, t, lead)
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, lead.Host()+"/apis/clusterview.io/v1beta1/clustersummaries", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	type answer struct {
		code int
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := httpClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		answered <- answer{code: resp.StatusCode, body: string(b)}
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	// The request is in flight once API priority and fairness counts it as
	// executing (the admin is exempt; the scrape itself counts too, hence
	// the baseline): past authentication, authorization and the
	// in-flight wait group, blocked reading its body in the create handler.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		return executingExempt(ctx, t, lead) > baseline, nil
	})
	if err != nil {
		t.Fatalf("the create never showed up as executing on replica %s", lead.Name)
	}

	sigterm := time.Now()
	if err := lead.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGTERM to replica %s (the leader, %s)", lead.Name, identity)

	// Watch the Lease, the watch and the process at once, each from SIGTERM.
	var wg sync.WaitGroup
	var leaseMoved, watchClosed time.Duration
	var leaseErr, watchErr error
	var sawReleased bool
	wg.Go(func() {
		leaseErr = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 2*env.LeaseDuration, true, func(ctx context.Context) (bool, error) {
			h, err := holder(ctx)
			if err != nil {
				return false, nil
			}
			sawReleased = sawReleased || h == ""
			return h != identity, nil
		})
		leaseMoved = time.Since(sigterm)
	})
	wg.Go(func() {
		timeout := time.After(2 * time.Minute)
		for {
			select {
			case _, ok := <-w.ResultChan():
				if !ok {
					watchClosed = time.Since(sigterm)
					return
				}
			case <-timeout:
				watchErr = context.DeadlineExceeded
				return
			}
		}
	})

	// The listener closes: new connections are refused.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(lead.Port))
		if err != nil {
			return true, nil
		}
		_ = conn.Close()
		return false, nil
	})
	if err != nil {
		t.Errorf("replica %s still accepts connections 10s after SIGTERM", lead.Name)
	}
	figure(t, "SIGTERM to listener closed", time.Since(sigterm))

	// Only now does the in-flight create get the rest of its body.
	if _, err := pw.Write(body[len(body)/2:]); err != nil {
		t.Errorf("sending the rest of the in-flight body: %v", err)
	}
	if err := pw.Close(); err != nil {
		t.Errorf("ending the in-flight body: %v", err)
	}
	select {
	case a := <-answered:
		if a.err != nil || a.code != http.StatusCreated {
			t.Errorf("the in-flight create got %d %v: %s; want 201 Created", a.code, a.err, strings.TrimSpace(a.body))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the in-flight create got no answer within 30s of its last byte")
	}
	if _, err := direct(t, survivor).ClusterSummaries().Get(ctx, "ha-inflight", metav1.GetOptions{}); err != nil {
		t.Errorf("the in-flight create's object is not stored: %v", err)
	}

	code, exited := lead.WaitExit(2 * time.Minute)
	exitedAfter := time.Since(sigterm)
	wg.Wait()

	figure(t, "SIGTERM to Lease holder changed (released or taken over)", leaseMoved)
	figure(t, "Lease seen released (holderIdentity empty) before the takeover", sawReleased)
	figure(t, "SIGTERM to open watch closed", watchClosed)
	figure(t, "SIGTERM to process exit", exitedAfter)
	if leaseErr != nil {
		t.Errorf("the Lease still names the stopped leader %v after SIGTERM", 2*env.LeaseDuration)
	}
	// Without a release the survivor waits a whole lease duration after the
	// last renewal, which was at most a retry period before SIGTERM.
	if limit := env.LeaseDuration - env.RetryPeriod - time.Second; leaseErr == nil && leaseMoved >= limit {
		t.Errorf("the Lease moved %v after SIGTERM, no faster than an expiry (≥ %v): it was not released", leaseMoved, limit)
	}
	if watchErr != nil {
		t.Errorf("the watch on the stopped replica was still open 2 minutes after SIGTERM")
	}
	if !exited {
		t.Fatalf("replica %s still runs 2 minutes after SIGTERM", lead.Name)
	}
	if code != 0 {
		t.Errorf("replica %s exited with %d after SIGTERM, want 0; log %s:\n%s", lead.Name, code, lead.LogPath(), lead.LogTail(30))
	}
	// --shutdown-watch-termination-grace-period (default 10 s) makes the
	// server end open watches at shutdown and wait at most that long for
	// them to drain; without it net/http's graceful Shutdown would wait for
	// them until --request-timeout (60 s). The bound is the grace period
	// plus slack for a loaded machine.
	const exitBound = 10*time.Second + 15*time.Second
	if exitedAfter > exitBound {
		t.Errorf("replica %s took %v to exit after SIGTERM, want at most %v", lead.Name, exitedAfter, exitBound)
	}
	if watchClosed > exitBound {
		t.Errorf("the open watch held on %v after SIGTERM, want it closed within %v", watchClosed, exitBound)
	}

	restart(ctx, t, lead, "replica ready after restart")
}

// executingExempt is the number of requests replica r is executing at the
// exempt priority level (the admin's), the scrape itself included.
func executingExempt(ctx context.Context, t *testing.T, r *framework.Replica) float64 {
	t.Helper()
	return metricSum(ctx, t, r, "apiserver_flowcontrol_current_executing_requests", func(labels string) bool {
		return strings.Contains(labels, `priority_level="exempt"`)
	})
}
