package clusterfill

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// TunedQPS and TunedBurst are TuneConfig's client-side rate limits: high
// enough that the API server, not the client, limits a fill.
const (
	TunedQPS   = 500
	TunedBurst = 1000
)

// TuneConfig returns a copy of cfg suited to filling a cluster: client-side
// rate limit raised to TunedQPS/TunedBurst (client-go's default of 5/10 would
// throttle Synthetic to a few pods per second) and protobuf on the wire, which
// built-in types support and which costs both sides far less CPU than JSON.
func TuneConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS = TunedQPS
	c.Burst = TunedBurst
	// A preset limiter would take precedence over QPS and Burst.
	c.RateLimiter = nil
	c.ContentType = runtime.ContentTypeProtobuf
	c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return c
}
