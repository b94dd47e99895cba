package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logtail-bench plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "bench/results", "directory of JSON results (from -json)")
	out := fs.String("out", "docs", "directory for the PNG plots")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	files, _ := filepath.Glob(filepath.Join(*in, "*.json"))
	var all []Result
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var rs []Result
		if err := json.Unmarshal(b, &rs); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		all = append(all, rs...)
	}
	return writePlots(all, *out, stdout)
}
