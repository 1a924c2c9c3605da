package server

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// route is one receiving endpoint, a label value of the metrics.
type route int

const (
	routePlaid route = iota
	routeBelvo
	routeCobalt
	routeCobaltLink // the update-mode-completed callback
	numRoutes
)

func (r route) provider() string {
	switch r {
	case routePlaid:
		return "plaid"
	case routeBelvo:
		return "belvo"
	default:
		return "cobalt"
	}
}

// what names the requests of the route in log lines.
func (r route) what() string {
	if r == routeCobaltLink {
		return "link callback"
	}
	return "webhook"
}

// result is what became of one request.
type result int

const (
	resAccepted   result = iota // stored (or, for an unregistered connection, kept for it)
	resDuplicate                // already stored: acknowledged, nothing new written
	resRejected                 // 4xx/5xx: nothing stored
	resIgnored                  // verified and acknowledged, but about no connection or of a type relink does not handle: not stored
	resUnreadable               // verified and acknowledged, but unreadable (Cobalt, which never retries a 4xx): not stored
	numResults
)

func (r result) String() string {
	switch r {
	case resAccepted:
		return "accepted"
	case resDuplicate:
		return "duplicate"
	case resRejected:
		return "rejected"
	case resUnreadable:
		return "unreadable"
	default:
		return "ignored"
	}
}

// Recheck outcomes.
const (
	recheckOK = iota
	recheckFailed
	recheckDropped
	numRecheck
)

// metrics are the server's counters, all updated atomically.
type metrics struct {
	requests [numRoutes][numResults]atomic.Int64
	ack      [numRoutes]histogram
	bounds   []float64 // histogram upper bounds, seconds

	batches      atomic.Int64 // store transactions committed
	batchEvents  atomic.Int64 // observations in them
	batchErrors  atomic.Int64 // transactions that failed
	storeNS      atomic.Int64 // time spent in store.Apply by the writer
	rechecks     [numRecheck]atomic.Int64
	queueDepth   func() int // observations waiting for the writer
	recheckDepth func() int // connections waiting for a recheck
	// connections with rechecks scheduled after a durable-link click
	recheckScheduled func() int
}

// histogram counts observations per bucket; the last bucket is +Inf.
type histogram struct {
	counts [16]atomic.Int64
	sumNS  atomic.Int64
}

func newMetrics() *metrics {
	return &metrics{bounds: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}
}

func (m *metrics) count(rt route, res result) { m.requests[rt][res].Add(1) }

// observe records one acknowledgement latency.
func (m *metrics) observe(rt route, d time.Duration) {
	h := &m.ack[rt]
	s := d.Seconds()
	i := 0
	for i < len(m.bounds) && s > m.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNS.Add(int64(d))
}

// ServeHTTP writes the metrics in the Prometheus text format, version 0.0.4.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	m.write(bw)
	bw.Flush()
}

func (m *metrics) write(w io.Writer) {
	fmt.Fprintln(w, "# HELP relink_webhooks_total Webhook requests by provider and result.")
	fmt.Fprintln(w, "# TYPE relink_webhooks_total counter")
	for rt := routePlaid; rt <= routeCobalt; rt++ {
		for res := resAccepted; res < numResults; res++ {
			fmt.Fprintf(w, "relink_webhooks_total{provider=%q,result=%q} %d\n", rt.provider(), res, m.requests[rt][res].Load())
		}
	}
	fmt.Fprintln(w, "# HELP relink_link_callbacks_total Update-mode-completed callbacks by provider and result.")
	fmt.Fprintln(w, "# TYPE relink_link_callbacks_total counter")
	for res := resAccepted; res < numResults; res++ {
		fmt.Fprintf(w, "relink_link_callbacks_total{provider=\"cobalt\",result=%q} %d\n", res, m.requests[routeCobaltLink][res].Load())
	}

	fmt.Fprintln(w, "# HELP relink_webhook_ack_seconds Time from receiving a webhook to acknowledging it after it was stored.")
	fmt.Fprintln(w, "# TYPE relink_webhook_ack_seconds histogram")
	for rt := routePlaid; rt < numRoutes; rt++ {
		name := rt.provider()
		if rt == routeCobaltLink {
			name = "cobalt_link"
		}
		h := &m.ack[rt]
		var cum int64
		for i, b := range m.bounds {
			cum += h.counts[i].Load()
			fmt.Fprintf(w, "relink_webhook_ack_seconds_bucket{provider=%q,le=%q} %d\n", name, strconv.FormatFloat(b, 'g', -1, 64), cum)
		}
		cum += h.counts[len(m.bounds)].Load()
		fmt.Fprintf(w, "relink_webhook_ack_seconds_bucket{provider=%q,le=\"+Inf\"} %d\n", name, cum)
		fmt.Fprintf(w, "relink_webhook_ack_seconds_sum{provider=%q} %g\n", name, time.Duration(h.sumNS.Load()).Seconds())
		fmt.Fprintf(w, "relink_webhook_ack_seconds_count{provider=%q} %d\n", name, cum)
	}

	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v int) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
	}
	counter("relink_store_batches_total", "Store transactions committed by the webhook writer.", m.batches.Load())
	counter("relink_store_batch_events_total", "Observations in those transactions.", m.batchEvents.Load())
	counter("relink_store_batch_errors_total", "Webhook writer transactions that failed.", m.batchErrors.Load())
	fmt.Fprintf(w, "# HELP relink_store_busy_seconds_total Time the webhook writer spent in store transactions.\n# TYPE relink_store_busy_seconds_total counter\nrelink_store_busy_seconds_total %g\n",
		time.Duration(m.storeNS.Load()).Seconds())
	fmt.Fprintln(w, "# HELP relink_rechecks_total Background rechecks of a connection (after a webhook, a durable-link click or a provider's return page), by result.")
	fmt.Fprintln(w, "# TYPE relink_rechecks_total counter")
	for i, name := range []string{"ok", "failed", "dropped"} {
		fmt.Fprintf(w, "relink_rechecks_total{result=%q} %d\n", name, m.rechecks[i].Load())
	}
	if m.queueDepth != nil {
		gauge("relink_store_queue_depth", "Verified events waiting for the writer.", m.queueDepth())
	}
	if m.recheckDepth != nil {
		gauge("relink_recheck_queue_depth", "Connections waiting for a background recheck.", m.recheckDepth())
	}
	if m.recheckScheduled != nil {
		gauge("relink_recheck_scheduled", "Connections with rechecks scheduled after a durable-link click.", m.recheckScheduled())
	}
}
