// Command edustream is the EduStream binary: the GraphQL API, the background
// workers, migrations and an admin token tool. `edustream dev` runs it all on
// embedded defaults with nothing installed but Go.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "edustream:", err)
		os.Exit(1)
	}
}
