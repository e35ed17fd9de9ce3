package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// A Service is one long-running part of serve (a listener, the queue, a
// background loop). Start returns once the part runs; the ctx it is given
// lives until every service has stopped, so a part may keep it for its
// work. Stop ends the part, draining what is in flight until ctx ends;
// it is called once, and only after a successful Start.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// A Failer is a Service that can fail after it started (a listener whose
// accept loop ends with an error). Failed's channel receives that error,
// at most once; a nil channel means the service never fails that way. The
// channel should not be closed: the runner reads a close (or a nil error)
// as a failure without a cause.
type Failer interface {
	Failed() <-chan error
}

// Runner runs an ordered list of services: it starts them in order and
// stops the started ones in reverse, when its context ends, when a running
// service fails, or when one of them fails to start.
type Runner struct {
	// Drain bounds each service's Stop (0: unbounded). Each Stop gets the
	// whole budget, so a long drain of the listeners does not cut the
	// queue's drain short.
	Drain time.Duration
	// Logger receives a line when a running service fails (nil: discarded).
	Logger *slog.Logger
}

// Run starts services in order and returns once they are all stopped
// again. It returns nil after a clean stop (ctx ended); otherwise the
// error that failed a start or a running service. Stop errors are
// returned too, joined after it.
func (r Runner) Run(ctx context.Context, services ...Service) error {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// life is what Start gets: it keeps ctx's values but not its end, and
	// ends once everything is stopped.
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	failures := make(chan error, 1)
	stopping := make(chan struct{})
	var watchers sync.WaitGroup

	var cause error
	started := 0
	for _, s := range services {
		if err := s.Start(life); err != nil {
			cause = err
			break
		}
		started++
		if ch := failed(s); ch != nil {
			watchers.Go(func() {
				select {
				case err := <-ch:
					if err == nil { // a closed channel, or a nil sent: still a failure
						err = errors.New("a service stopped running without a cause")
					}
					select {
					case failures <- err:
					default: // another failure is already shutting down
					}
				case <-stopping:
				}
			})
		}
	}
	if cause == nil {
		select {
		case <-ctx.Done():
		case cause = <-failures:
			log.Error("a service failed; stopping every service", slog.String("error", cause.Error()))
		}
	}
	close(stopping)
	errs := []error{cause}
	for _, s := range slices.Backward(services[:started]) {
		errs = append(errs, r.stop(ctx, s))
	}
	watchers.Wait()
	return errors.Join(errs...)
}

// stop stops s within the drain budget.
func (r Runner) stop(ctx context.Context, s Service) error {
	sctx := context.WithoutCancel(ctx)
	if r.Drain > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, r.Drain)
		defer cancel()
	}
	return s.Stop(sctx)
}

// StartStop is a Service made of two functions; either may be nil.
func StartStop(start, stop func(context.Context) error) Service {
	return funcs{start: start, stop: stop}
}

type funcs struct{ start, stop func(context.Context) error }

func (f funcs) Start(ctx context.Context) error {
	if f.start == nil {
		return nil
	}
	return f.start(ctx)
}

func (f funcs) Stop(ctx context.Context) error {
	if f.stop == nil {
		return nil
	}
	return f.stop(ctx)
}

// OnStop is a Service with nothing to start that runs stop when it is
// stopped (closing what was opened before the runner started).
func OnStop(stop func() error) Service {
	return StartStop(nil, func(context.Context) error { return stop() })
}

// Background runs run in a goroutine from Start until Stop, which ends
// run's context and waits for it to return (until Stop's ctx ends). name
// says what did not return in time.
func Background(name string, run func(ctx context.Context)) Service {
	return &background{name: name, run: run}
}

type background struct {
	name   string
	run    func(context.Context)
	cancel context.CancelFunc
	done   chan struct{}
}

func (b *background) Start(ctx context.Context) error {
	ctx, b.cancel = context.WithCancel(ctx)
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		b.run(ctx)
	}()
	return nil
}

func (b *background) Stop(ctx context.Context) error {
	b.cancel()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s did not stop: %w", b.name, ctx.Err())
	}
}

// Parallel is one Service made of several started in order and stopped
// all at once (listeners that drain side by side within one budget). If
// one fails to start, those started are stopped in reverse.
func Parallel(services ...Service) Service {
	return &parallel{services: services, failed: make(chan error, 1)}
}

type parallel struct {
	services []Service
	started  int
	failed   chan error
	stopping chan struct{}
	watchers sync.WaitGroup
}

func (p *parallel) Start(ctx context.Context) error {
	p.stopping = make(chan struct{})
	for _, s := range p.services {
		if err := s.Start(ctx); err != nil {
			close(p.stopping)
			p.watchers.Wait()
			errs := []error{err}
			for _, s := range slices.Backward(p.services[:p.started]) {
				errs = append(errs, s.Stop(context.WithoutCancel(ctx)))
			}
			p.started = 0
			return errors.Join(errs...)
		}
		p.started++
		if ch := failed(s); ch != nil {
			p.watchers.Go(func() {
				select {
				case err := <-ch:
					if err == nil { // a closed channel, or a nil sent: still a failure
						err = errors.New("a service stopped running without a cause")
					}
					select {
					case p.failed <- err:
					default:
					}
				case <-p.stopping:
				}
			})
		}
	}
	return nil
}

func (p *parallel) Stop(ctx context.Context) error {
	close(p.stopping)
	errs := make([]error, p.started)
	var wg sync.WaitGroup
	for i, s := range p.services[:p.started] {
		wg.Go(func() { errs[i] = s.Stop(ctx) })
	}
	wg.Wait()
	p.watchers.Wait()
	return errors.Join(errs...)
}

func (p *parallel) Failed() <-chan error { return p.failed }

// LogStop makes s's Stop errors a log line (msg, with the error) instead of
// an error of the run: a drain that ran out of time is worth a line, not a
// failed exit.
func LogStop(s Service, log *slog.Logger, msg string) Service {
	return logStop{Service: s, log: log, msg: msg}
}

type logStop struct {
	Service
	log *slog.Logger
	msg string
}

func (l logStop) Stop(ctx context.Context) error {
	if err := l.Service.Stop(ctx); err != nil {
		l.log.Error(l.msg, slog.String("error", err.Error()))
	}
	return nil
}

func (l logStop) Failed() <-chan error { return failed(l.Service) }

// Flagged prefixes s's Start error with the setting that configured it
// ("--mx-addr: listen on …").
func Flagged(flag string, s Service) Service { return flagged{Service: s, flag: flag} }

type flagged struct {
	Service
	flag string
}

func (f flagged) Start(ctx context.Context) error {
	if err := f.Service.Start(ctx); err != nil {
		return fmt.Errorf("%s: %w", f.flag, err)
	}
	return nil
}

func (f flagged) Failed() <-chan error { return failed(f.Service) }

// failed is s's Failed channel, nil if s never fails once started.
func failed(s Service) <-chan error {
	if f, ok := s.(Failer); ok {
		return f.Failed()
	}
	return nil
}
