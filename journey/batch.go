package journey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Batched is one customer's commit in a CommitBatch.
type Batched struct {
	ID string
	Fn CommitFunc
}

// CommitBatch applies each item's Fn to its customer's journey like Commit
// (without a message id), for many customers in a few round trips instead
// of one or two each: the journeys not cached are read in one pipeline, and
// the commits go in one more. Each customer's commit stays one atomic script
// on its own slot, and its queue entries follow it as in Commit: in the same
// MULTI/EXEC on a single node (so a batch runs in Redis as one transaction),
// in a second pipeline of the commits that went in on a cluster. An item
// that needs more than the plain path (a write that conflicted with
// another process, a merged journey, a Fn that changed nothing or failed)
// goes through Commit on its own. It returns the committed journey or the
// error of each item, in order.
func (s *Store) CommitBatch(ctx context.Context, now time.Time, items []Batched) ([]*Journey, []error) {
	js := make([]*Journey, len(items))
	errs := make([]error, len(items))
	alone := make([]bool, len(items)) // to go through Commit
	vers := make([]int64, len(items))
	curs := make([]*Journey, len(items))
	cached := make([]bool, len(items))

	// The reads: one pipeline for the journeys not cached.
	pipe := s.rdb.Pipeline()
	loads := make([]*redis.SliceCmd, len(items))
	for i, it := range items {
		if vers[i], curs[i], cached[i] = s.cache.get(it.ID); !cached[i] {
			loads[i] = pipe.HMGet(ctx, s.jkey(it.ID), "v", "d", "mv")
		}
	}
	if pipe.Len() > 0 {
		pipe.Exec(ctx) // each read's error is its own
	}
	for i, it := range items {
		if loads[i] == nil {
			continue
		}
		vals, err := loads[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			alone[i] = true // Commit reads it again and says what failed
			continue
		}
		if mv, _ := vals[2].(string); mv != "" {
			alone[i] = true // merged: Commit follows the forward
			continue
		}
		ver, j, err := decodeJourney(it.ID, vals)
		if err != nil {
			alone[i] = true
			continue
		}
		if ver == 0 {
			j = New(it.ID, now)
		}
		vers[i], curs[i] = ver, j
	}

	// The engine, then the commits: one pipeline.
	pipe = s.pipeline()
	pcs := make([]pendingCommit, len(items))
	nexts := make([]*Journey, len(items))
	for i, it := range items {
		if alone[i] {
			continue
		}
		next := curs[i].Clone()
		ch, err := it.Fn(next)
		if err != nil {
			// Nothing to write, or a failure: Commit decides on Redis's copy
			// when this was the cached one, and answers as it would.
			alone[i] = true
			continue
		}
		pc, err := s.queueCommit(ctx, pipe, it.ID, "", vers[i], curs[i], next, ch, now, false)
		if err != nil {
			js[i], errs[i] = nil, err
			continue
		}
		if !s.cluster {
			s.queueMarks(ctx, pipe, it.ID, &pc, now)
		}
		pcs[i], nexts[i] = pc, next
	}
	var execErr error
	if pipe.Len() > 0 {
		_, execErr = pipe.Exec(ctx)
	}

	// The results; on a cluster, the marks of what went in.
	var marks redis.Pipeliner
	marked := make([]bool, len(items))
	reload := false
	for i, it := range items {
		pc := pcs[i]
		if alone[i] || pc.cmd == nil {
			continue
		}
		if err := pc.cmd.Err(); err != nil {
			if isNoScript(err) {
				reload, alone[i] = true, true
				continue
			}
			s.cache.drop(it.ID)
			errs[i] = fmt.Errorf("journey %s: commit: %w", it.ID, err)
			continue
		}
		res, _ := pc.cmd.Slice()
		if len(res) < 2 || res[0] != int64(1) {
			// Another process wrote first, or the journey was merged into
			// another meanwhile: Commit reads it again and follows.
			s.cache.drop(it.ID)
			alone[i] = true
			continue
		}
		ver, _ := res[1].(int64)
		s.cache.putDoc(it.ID, ver, pc.data)
		js[i] = nexts[i]
		if s.cluster && (pc.queued || pc.moved) {
			if marks == nil {
				marks = s.rdb.Pipeline()
			}
			s.queueMarks(ctx, marks, it.ID, &pcs[i], now)
			marked[i] = true
		} else if !s.cluster && execErr != nil {
			marked[i] = pc.queued || pc.moved // a mark beside it may have failed
		}
	}
	if marks != nil {
		_, execErr = marks.Exec(ctx)
	}
	if execErr != nil {
		// Committed, but a queue entry after it failed: write those again,
		// on their own.
		for i, it := range items {
			if !marked[i] {
				continue
			}
			if err := s.requeue(ctx, it.ID, &pcs[i], now, false); err != nil {
				s.cache.drop(it.ID)
				js[i], errs[i] = nil, fmt.Errorf("journey %s: committed, but queueing its work failed: %w", it.ID, err)
			}
		}
	}
	if reload {
		// Redis restarted and forgot the scripts; Commit loads them too, but
		// once is enough for the batch.
		if err := s.LoadScripts(ctx); err != nil {
			for i := range items {
				if alone[i] && js[i] == nil && errs[i] == nil {
					errs[i] = err
					alone[i] = false
				}
			}
		}
	}
	for i, it := range items {
		if alone[i] {
			js[i], errs[i] = s.commit(ctx, it.ID, "", now, it.Fn, false)
		}
	}
	return js, errs
}
