package lifecycle

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits after the last change before
// reloading: editors and `cp` write a file in several steps.
const DefaultDebounce = 300 * time.Millisecond

// Watch reloads when the policy file or a file it names changes on disk,
// until ctx is done. It watches the directories (editors replace files by
// renaming), filters events by file name, and debounces bursts.
func (r *Reloader) Watch(ctx context.Context, debounce time.Duration) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watched := map[string]bool{} // files we care about
	dirs := map[string]bool{}
	rewatch := func() {
		files := r.Files() // named by the last parse: no parse here
		watched = map[string]bool{}
		for _, f := range files {
			watched[f] = true
			d := filepath.Dir(f)
			if !dirs[d] {
				if err := w.Add(d); err == nil {
					dirs[d] = true
				} else {
					r.log.Warn("cannot watch directory", "dir", d, "err", err)
				}
			}
		}
	}
	rewatch()
	if r.watching != nil {
		close(r.watching)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			name, err := filepath.Abs(ev.Name)
			if err != nil || !watched[name] {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.log.Warn("file watcher", "err", err)
		case <-timer.C:
			r.Reload(ctx)
			rewatch()
		}
	}
}
