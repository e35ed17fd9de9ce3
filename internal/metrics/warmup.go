package metrics

import "github.com/prometheus/client_golang/prometheus"

// The sending IPs' warm-up (internal/delivery, sourceip.go).
func (m *Metrics) registerWarmup(register func(prometheus.Collector)) {
	m.warmupSent = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "warmup_sent_total",
		Help: "Messages delivered from a warming-up sending IP (--warmup-ips), by IP and destination (a provider, or other): what counts against its daily cap."},
		[]string{"ip", "destination"})
	m.warmupCapped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "warmup_capped_total",
		Help: "Messages held (deferred to the next day, not bounced) because every IP of their pool was at its warm-up cap for the destination, by pool and destination."},
		[]string{"pool", "destination"})
	register(m.warmupSent)
	register(m.warmupCapped)
}

// WarmupSent counts a message delivered from a warming-up ip to
// destination.
func (m *Metrics) WarmupSent(ip, destination string) {
	if m != nil {
		m.warmupSent.WithLabelValues(ip, destination).Inc()
	}
}

// WarmupCapped counts a message held because every IP of pool was at its
// warm-up cap for destination.
func (m *Metrics) WarmupCapped(pool, destination string) {
	if m != nil {
		m.warmupCapped.WithLabelValues(pool, destination).Inc()
	}
}
