package apiserver

import (
	"fmt"
	"time"

	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/clusterview/clusterview/pkg/history"
)

// HistoryConfig is how ClusterSummary history is recorded and kept.
type HistoryConfig struct {
	// Resolution is the time between two raw samples.
	Resolution time.Duration
	// RawRetention is how long raw samples are kept.
	RawRetention time.Duration
	// RollupInterval is the interval one rollup summarises.
	RollupInterval time.Duration
	// RollupRetention is how long rollups are kept.
	RollupRetention time.Duration
	// Etcd reaches the etcd that stores the history: the server's own.
	Etcd storagebackend.TransportConfig
	// Prefix is the etcd key prefix of all history.
	Prefix string
}

// Validate reports the settings a user must fix, naming their flags.
func (c *HistoryConfig) Validate() []error {
	var errs []error
	if c.Resolution < time.Second {
		errs = append(errs, fmt.Errorf("--history-resolution must be at least 1s, not %s", c.Resolution))
	}
	if c.RollupInterval < c.Resolution || (c.Resolution > 0 && c.RollupInterval%c.Resolution != 0) {
		errs = append(errs, fmt.Errorf("--history-rollup-interval (%s) must be a multiple of --history-resolution (%s)", c.RollupInterval, c.Resolution))
	}
	if c.RawRetention < 2*c.RollupInterval {
		errs = append(errs, fmt.Errorf("--history-raw-retention (%s) must be at least twice --history-rollup-interval (%s)", c.RawRetention, c.RollupInterval))
	}
	if c.RollupRetention < c.RollupInterval {
		errs = append(errs, fmt.Errorf("--history-rollup-retention (%s) must be at least --history-rollup-interval (%s)", c.RollupRetention, c.RollupInterval))
	}
	return errs
}

// Tiers returns the raw and rollup tiers the configuration describes.
func (c *HistoryConfig) Tiers() (raw, rollup history.Tier) {
	return history.RawTier(c.Resolution, c.RawRetention), history.RollupTier(c.RollupInterval, c.RollupRetention)
}
