package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

const usage = `usage: edustream <command> [flags]

commands:
  dev      run the API and the workers on embedded defaults, with demo data
  serve    run the API (add -work to run the workers in the same process)
  work     run the workers
  migrate  apply database migrations and exit
  token    print a signed JWT: token -sub ID -role ADMIN|INSTRUCTOR|STUDENT [-email -name -ttl]
  upload   upload a lecture video and follow its encoding: upload -lecture ID [-url -token] FILE
  webex    register the Webex webhooks: webex register-webhooks -target https://HOST/webhooks/webex

Every setting is an EDUSTREAM_ environment variable or a flag; see
"edustream <command> -h".`

// run is the whole program: main only adds the signal context and the exit
// code, so tests can run it in-process on 127.0.0.1:0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "dev", "serve", "work", "migrate":
	case "token":
		return runToken(args, getenv, stdout)
	case "upload":
		return runUpload(ctx, args, getenv, stdout)
	case "webex":
		return runWebex(ctx, args, getenv, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	cfg, err := parseConfig(cmd, args, getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stdout)
	if err != nil {
		return err
	}
	tr, err := openTracing(ctx, cmd, getenv, log)
	if err != nil {
		return err
	}
	defer closeTracing(tr, log)
	log = tr.Logger(log)
	routeLibraryLogs(log)
	if cmd != "migrate" {
		applyGCDefaults(getenv, log)
	}
	switch cmd {
	case "migrate":
		return runMigrate(ctx, cfg, log)
	case "work":
		return runWork(ctx, cfg, log, tr)
	default:
		return runServe(ctx, cmd, cfg, log, stdout, tr)
	}
}
