package reputation

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestVerdict(t *testing.T) {
	t.Parallel()
	def := Config{}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name string
		cfg  Config
		r    Rates
		want string
	}{
		{"too few to judge", def, Rates{Delivered: 2, BouncedPermanent: 1, Window: day}, ""},
		{"clean", def, Rates{Delivered: 1000, BouncedPermanent: 10, Complained: 2, Window: day}, ""},
		{"complaints at the threshold", def, Rates{Delivered: 1000, Complained: 3, Window: day}, "complaint rate 0.3% over 24h ≥ 0.3%"},
		{"complaints over", def, Rates{Delivered: 10000, Complained: 41, Window: day}, "complaint rate 0.41% over 24h ≥ 0.3%"},
		{"bounces over", def, Rates{Delivered: 93, BouncedPermanent: 7, Window: day}, "bounce rate 7% over 24h ≥ 5%"},
		{"bounces just under", def, Rates{Delivered: 951, BouncedPermanent: 49, Window: day}, ""},
		{"complaints first", def, Rates{Delivered: 90, BouncedPermanent: 10, Complained: 1, Window: day}, "complaint rate 1.11% over 24h ≥ 0.3%"},
		{"configured", Config{Window: 6 * time.Hour, MinVolume: 10, BounceRate: 0.1, ComplaintRate: 0.01},
			Rates{Delivered: 9, BouncedPermanent: 1, Window: 6 * time.Hour}, "bounce rate 10% over 6h ≥ 10%"},
		{"all bounced: no complaint rate", def, Rates{BouncedPermanent: 100, Window: day}, "bounce rate 100% over 24h ≥ 5%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.cfg.Verdict(tc.r))
		})
	}
}
