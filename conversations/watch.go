package conversations

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reloads the scripts in dir when a file changes: a valid change is
// swapped into the engine atomically; an invalid one is refused with its
// problems in the log and the running scripts stay. It returns when ctx ends.
func Watch(ctx context.Context, dir string, e *Engine, log *slog.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	add := func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				w.Add(p)
			}
			return nil
		})
	}
	add()
	// Warnings were logged when the scripts were first loaded; a reload
	// logs only the ones it did not log before, not all of them again.
	warned := map[string]bool{}
	if _, probs, _ := LoadDir(dir); probs != nil {
		for _, p := range probs {
			warned[warningKey(p)] = p.Warning
		}
	}
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				add() // a new sub-folder
			}
			// Editors write files in several steps; reload once they are done.
			debounce = time.After(300 * time.Millisecond)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("scripts watcher", "err", err)
		case <-debounce:
			debounce = nil
			reload(dir, e, log, warned)
		}
	}
}

// warningKey identifies a warning across reloads: by file and message, as
// lines above it may have moved.
func warningKey(p Problem) string { return p.Pos.File + "\x00" + p.Msg }

// Reload loads dir and swaps it in when it lints clean; it reports whether it did.
func Reload(dir string, e *Engine, log *slog.Logger) bool {
	return reload(dir, e, log, nil)
}

// reload is Reload logging only the warnings not in warned (nil: all),
// which it then remembers.
func reload(dir string, e *Engine, log *slog.Logger, warned map[string]bool) bool {
	s, probs, err := LoadDir(dir)
	now := map[string]bool{}
	for _, p := range probs {
		if !p.Warning {
			continue
		}
		k := warningKey(p)
		now[k] = true
		if warned == nil || !warned[k] {
			log.Warn("script warning", "at", p.Pos.String(), "msg", p.Msg)
		}
	}
	if warned != nil && err == nil {
		clear(warned)
		for k := range now {
			warned[k] = true
		}
	}
	if err != nil {
		for _, p := range probs.Errors() {
			log.Error("script error; the running scripts stay", "at", p.Pos.String(), "msg", p.Msg)
		}
		if len(probs) == 0 {
			log.Error("scripts not reloaded; the running scripts stay", "err", err)
		}
		return false
	}
	e.Swap(s)
	log.Info("scripts reloaded", "dir", dir, "flows", len(s.Flows))
	return true
}
