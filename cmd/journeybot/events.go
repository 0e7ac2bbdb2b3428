package main

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"
)

// setupEvents mounts POST /events when events.secret is set.
func setupEvents(ctx context.Context, a *app, mux *http.ServeMux) error {
	return nil
}

func eventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Commerce events"}
	return cmd
}
