package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/loomcast/loomcast/media"
)

// The sample video: small enough to make in an instant, long enough for
// every platform's minimum.
const (
	sampleVideoBytes    = 64 << 10
	sampleVideoDuration = 5 * time.Second
)

// runSampleVideo handles `sample-video FILE`: it writes a synthetic MP4
// (a well-formed container with a duration and filler for pictures) that
// uploads and the sandboxes accept, so the walkthrough needs no footage.
func runSampleVideo(args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] == "" {
		return errors.New("usage: loomcast sample-video FILE")
	}
	path := args[0]
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := media.SyntheticMP4(f, sampleVideoBytes, sampleVideoDuration); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "wrote %s: a %d-byte, %s synthetic MP4 for the sandboxes (real platforms would refuse it)\n",
		path, sampleVideoBytes, sampleVideoDuration)
	return nil
}
