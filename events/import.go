package events

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"journeybot/bot"
	"journeybot/journey"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Progress receives a progress bar (stderr in the CLI); nil shows none.
	Progress io.Writer
	// Size is the input's length in bytes, for the bar; <= 0 when unknown.
	Size int64
	// Workers apply events in parallel; the events of one customer always go
	// to the same worker, in file order. Default 8.
	Workers int
	// Now is the clock used to refuse events from the future.
	Now func() time.Time
}

// LineError is a line that was skipped, and why.
type LineError struct {
	Line int
	Err  string
}

func (e LineError) String() string { return fmt.Sprintf("line %d: %s", e.Line, e.Err) }

// Summary is what an import did.
type Summary struct {
	Lines      int // non-blank lines read
	Applied    int
	Duplicates int // event ids applied before (an import may be run again safely)
	// Erased counts events refused because their customer was erased at
	// their request (and the event does not say they consented again).
	Erased  int
	Invalid []LineError
	// Messages counts messages the scripts produced for recent events (those
	// inside schedule.grace); the import has no channel to send them on.
	Messages int
}

// Import reads JSON lines (one event per line; blank lines and lines
// starting with # are skipped) and applies each through the same path as
// POST /events. A bad line is recorded and skipped; an error applying an
// event (Redis unavailable) stops the import and is returned with the line
// number, along with the summary so far. Every event needs occurred_at.
func Import(ctx context.Context, r io.Reader, b Applier, o ImportOptions) (*Summary, error) {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var bar *progressbar.ProgressBar
	if o.Progress != nil {
		size := o.Size
		if size <= 0 {
			size = -1
		}
		bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(o.Progress),
			progressbar.OptionSetDescription("importing events"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(o.Progress) }),
		)
		r = io.TeeReader(r, bar)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sum := &Summary{}
	var mu sync.Mutex
	type job struct {
		line int
		ev   journey.Event
	}
	queues := make([]chan job, o.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan job, 64)
		wg.Add(1)
		go func(q chan job) {
			defer wg.Done()
			for jb := range q {
				if ctx.Err() != nil {
					continue // drain after a failure
				}
				out, err := b.HandleEvent(ctx, jb.ev)
				if errors.Is(err, bot.ErrErased) {
					mu.Lock()
					sum.Erased++
					mu.Unlock()
					continue
				}
				if err != nil {
					cancel(fmt.Errorf("line %d (event %s): %w", jb.line, jb.ev.ID, err))
					continue
				}
				mu.Lock()
				if out.Duplicate {
					sum.Duplicates++
				} else {
					sum.Applied++
					sum.Messages += out.Messages
				}
				mu.Unlock()
			}
		}(queues[i])
	}

	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	var readErr error
	for ctx.Err() == nil {
		raw, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			readErr = fmt.Errorf("read line %d: %w", line+1, err)
			break
		}
		if raw == nil && !tooLong && errors.Is(err, io.EOF) {
			break
		}
		line++
		trimmed := bytes.TrimSpace(raw)
		if !tooLong && (len(trimmed) == 0 || trimmed[0] == '#') {
			if errors.Is(err, io.EOF) {
				break
			}
			continue
		}
		mu.Lock()
		sum.Lines++
		mu.Unlock()
		if tooLong {
			mu.Lock()
			sum.Invalid = append(sum.Invalid, LineError{line, "line longer than 1 MiB"})
			mu.Unlock()
		} else if ev, perr := Parse(trimmed, ParseOptions{Now: o.Now(), RequireTime: true}); perr != nil {
			mu.Lock()
			sum.Invalid = append(sum.Invalid, LineError{line, perr.Error()})
			mu.Unlock()
		} else {
			select {
			case queues[shard(ev.Customer.ID, o.Workers)] <- job{line, ev}:
			case <-ctx.Done():
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if bar != nil {
		bar.Finish()
	}
	if readErr != nil {
		return sum, readErr
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return sum, err
	} else if err != nil {
		return sum, fmt.Errorf("import interrupted after line %d: %w", line, err)
	}
	return sum, nil
}

func shard(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// readLine returns the next line without its newline. A line longer than
// MaxBody is consumed and reported as tooLong, so the import goes on.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > MaxBody+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		if line == nil && !tooLong && err == nil {
			line = []byte{}
		}
		return line, tooLong, err
	}
}
