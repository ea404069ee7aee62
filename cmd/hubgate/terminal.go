package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
)

// Whether a person watches stderr decides three things: the dev log's
// colours, how progress is shown (one line redrawn with "\r", or plain
// lines for a log file or a CI job), and whether `hubgate mode enforce`
// asks before it switches. run gets its outputs as io.Writers, so the
// question is asked of the writer: an *os.File is asked through isatty;
// tests stand in for a person with a writer that implements terminal.

// terminal is an output a person reads in a terminal.
type terminal interface {
	io.Writer
	// Answers is where the person's answers to a question come from; nil
	// when they cannot answer (standard input is not a terminal).
	Answers() io.Reader
}

// termOf reports whether a person reads w in a terminal, and where their
// answers come from (nil: nowhere).
func termOf(w io.Writer) (tty bool, answers io.Reader) {
	switch t := w.(type) {
	case terminal:
		return true, t.Answers()
	case *os.File:
		if !isTTY(t) {
			return false, nil
		}
		if isTTY(os.Stdin) {
			return true, os.Stdin
		}
		return true, nil
	}
	return false, nil
}

func isTTY(f *os.File) bool { return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()) }

// progressEvery is how often progress is written as plain lines when no
// person watches: often enough to show life in a CI log, rarely enough not
// to flood it.
const progressEvery = 5 * time.Second

// progressLine shows how far long work has come. On a terminal it redraws
// one line ("\r" and the text); elsewhere it writes whole lines without
// "\r", the first one at once and then at most one every progressEvery.
type progressLine struct {
	w     io.Writer
	tty   bool
	every time.Duration
	now   func() time.Time
	last  time.Time // when a plain line was last written; zero: never
}

func newProgress(w io.Writer) *progressLine {
	tty, _ := termOf(w)
	return &progressLine{w: w, tty: tty, every: progressEvery, now: time.Now}
}

// show shows text as the current state.
func (p *progressLine) show(text string) {
	if p.tty {
		io.WriteString(p.w, "\r"+text)
		return
	}
	now := p.now()
	if !p.last.IsZero() && now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	io.WriteString(p.w, text+"\n")
}

// done ends the progress with text as its last line.
func (p *progressLine) done(text string) {
	if p.tty {
		io.WriteString(p.w, "\r"+text+"\n")
		return
	}
	io.WriteString(p.w, text+"\n")
}
