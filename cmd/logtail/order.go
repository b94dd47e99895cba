package main

import (
	"fmt"

	"github.com/logtail/logtail/wire"
)

// timestampLayout is --timestamps': RFC 3339 with nanoseconds in UTC, as
// kubectl logs --timestamps, but always nine digits, so that the lines
// stay aligned.
const timestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// noTimestamp stands for the time of a line whose daemon sent none (one
// older than the field).
const noTimestamp = "-"

// decorate is m as printed in text among many sources: each line after
// the time the daemon read it (timestamps), and an unfinished last line
// made a line of its own (endPartial), so that the next source's line does
// not join it. m itself is left as it is: the stream's.
func decorate(m *wire.Message, timestamps, endPartial bool) *wire.Message {
	d := *m
	lines := m.Lines
	if endPartial && m.Partial != "" {
		lines = append(lines[:len(lines):len(lines)], m.Partial)
		d.Partial = ""
	}
	if timestamps {
		ts := noTimestamp
		if t, ok := m.ReadTime(); ok {
			ts = t.UTC().Format(timestampLayout)
		}
		stamped := make([]string, len(lines))
		for i, l := range lines {
			stamped[i] = ts + " " + l
		}
		lines = stamped
		if d.Partial != "" {
			d.Partial = ts + " " + d.Partial
		}
	}
	d.Lines = lines
	d.Sizes = nil // of the lines as the file holds them, no longer these
	return &d
}

// orderFlag is --order: arrival or time.
type orderFlag struct{ time *bool }

func (f orderFlag) String() string {
	if f.time != nil && *f.time {
		return "time"
	}
	return "arrival"
}

func (f orderFlag) Set(s string) error {
	switch s {
	case "arrival":
		*f.time = false
	case "time":
		*f.time = true
	default:
		return fmt.Errorf("want arrival or time")
	}
	return nil
}
