package mediaconverttest

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
)

// CreateJobRequest is the part of a CreateJob body the fake reads, in the
// API's member names (Go's decoder matches them case-insensitively).
type CreateJobRequest struct {
	Role                 string            `json:"role"`
	Queue                string            `json:"queue,omitempty"`
	ClientRequestToken   string            `json:"clientRequestToken,omitempty"`
	UserMetadata         map[string]string `json:"userMetadata,omitempty"`
	StatusUpdateInterval string            `json:"statusUpdateInterval,omitempty"`
	Settings             *JobSettings      `json:"settings"`
}

// JobSettings is a job's inputs and output groups.
type JobSettings struct {
	Inputs       []Input       `json:"inputs"`
	OutputGroups []OutputGroup `json:"outputGroups"`
}

// Input is one input file.
type Input struct {
	FileInput      string                    `json:"fileInput"`
	AudioSelectors map[string]map[string]any `json:"audioSelectors,omitempty"`
	VideoSelector  map[string]any            `json:"videoSelector,omitempty"`
}

// OutputGroup is one output group.
type OutputGroup struct {
	Name                string `json:"name"`
	OutputGroupSettings struct {
		Type             string `json:"type"`
		HlsGroupSettings *struct {
			Destination        string `json:"destination"`
			SegmentLength      int    `json:"segmentLength"`
			DirectoryStructure string `json:"directoryStructure"`
		} `json:"hlsGroupSettings,omitempty"`
		FileGroupSettings *struct {
			Destination string `json:"destination"`
		} `json:"fileGroupSettings,omitempty"`
	} `json:"outputGroupSettings"`
	Outputs []Output `json:"outputs"`
}

// Output is one output of a group.
type Output struct {
	NameModifier      string `json:"nameModifier,omitempty"`
	ContainerSettings struct {
		Container string `json:"container"`
	} `json:"containerSettings"`
	VideoDescription *struct {
		Width         int `json:"width"`
		Height        int `json:"height"`
		CodecSettings struct {
			Codec        string `json:"codec"`
			H264Settings *struct {
				RateControlMode string  `json:"rateControlMode"`
				MaxBitrate      int     `json:"maxBitrate"`
				CodecLevel      string  `json:"codecLevel"`
				CodecProfile    string  `json:"codecProfile"`
				GopSize         float64 `json:"gopSize"`
				GopSizeUnits    string  `json:"gopSizeUnits"`
				QvbrSettings    *struct {
					QvbrQualityLevel int `json:"qvbrQualityLevel"`
				} `json:"qvbrSettings"`
				FramerateControl     string `json:"framerateControl"`
				FramerateNumerator   int    `json:"framerateNumerator"`
				FramerateDenominator int    `json:"framerateDenominator"`
			} `json:"h264Settings,omitempty"`
			FrameCaptureSettings *struct {
				FramerateNumerator   int `json:"framerateNumerator"`
				FramerateDenominator int `json:"framerateDenominator"`
				MaxCaptures          int `json:"maxCaptures"`
				Quality              int `json:"quality"`
			} `json:"frameCaptureSettings,omitempty"`
		} `json:"codecSettings"`
	} `json:"videoDescription"`
	AudioDescriptions []struct {
		CodecSettings struct {
			Codec       string `json:"codec"`
			AacSettings *struct {
				Bitrate    int    `json:"bitrate"`
				CodingMode string `json:"codingMode"`
				SampleRate int    `json:"sampleRate"`
			} `json:"aacSettings"`
		} `json:"codecSettings"`
	} `json:"audioDescriptions,omitempty"`
}

func (r *CreateJobRequest) queue() string {
	if r.Queue != "" {
		return r.Queue
	}
	return "arn:aws:mediaconvert:" + Region + ":" + Account + ":queues/Default"
}

// check refuses what MediaConvert would refuse, as far as the fake
// supports jobs at all (HLS and file groups).
func (r *CreateJobRequest) check(bucket string) error {
	s3 := func(what, u string) error {
		if !strings.HasPrefix(u, "s3://"+bucket+"/") {
			return fmt.Errorf("%s %q is not in s3://%s/", what, u, bucket)
		}
		return nil
	}
	switch {
	case !strings.HasPrefix(r.Role, "arn:aws:iam::"):
		return fmt.Errorf("/role: %q is not an IAM role ARN", r.Role)
	case r.Settings == nil:
		return errors.New("/settings is required")
	case len(r.Settings.Inputs) != 1:
		return fmt.Errorf("/settings/inputs: the fake takes one input, got %d", len(r.Settings.Inputs))
	case len(r.Settings.OutputGroups) == 0:
		return errors.New("/settings/outputGroups is required")
	case len(r.ClientRequestToken) > 128:
		return errors.New("/clientRequestToken is too long")
	}
	if err := s3("the input", r.Settings.Inputs[0].FileInput); err != nil {
		return err
	}
	for v := range r.UserMetadata {
		if v == "" {
			return errors.New("/userMetadata has an empty key")
		}
	}
	for gi, g := range r.Settings.OutputGroups {
		where := fmt.Sprintf("/settings/outputGroups/%d", gi)
		gs := g.OutputGroupSettings
		switch {
		case gs.Type == "HLS_GROUP_SETTINGS" && gs.HlsGroupSettings != nil:
			if err := s3(where+" destination", gs.HlsGroupSettings.Destination); err != nil {
				return err
			}
			if gs.HlsGroupSettings.SegmentLength < 1 {
				return fmt.Errorf("%s: segmentLength must be at least 1", where)
			}
		case gs.Type == "FILE_GROUP_SETTINGS" && gs.FileGroupSettings != nil:
			if err := s3(where+" destination", gs.FileGroupSettings.Destination); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: type %q with its settings is required (the fake knows HLS and file groups)", where, gs.Type)
		}
		if len(g.Outputs) == 0 {
			return fmt.Errorf("%s/outputs is required", where)
		}
		modifiers := map[string]bool{}
		for oi, o := range g.Outputs {
			where := fmt.Sprintf("%s/outputs/%d", where, oi)
			if len(g.Outputs) > 1 && (o.NameModifier == "" || modifiers[o.NameModifier]) {
				return fmt.Errorf("%s: nameModifier is required and unique when a group has several outputs", where)
			}
			modifiers[o.NameModifier] = true
			if err := o.check(gs.Type); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

func (o *Output) check(groupType string) error {
	v := o.VideoDescription
	if v == nil {
		return errors.New("videoDescription is required (the fake makes video outputs only)")
	}
	if v.Width < 32 || v.Height < 32 || v.Width%2 != 0 || v.Height%2 != 0 {
		return fmt.Errorf("width and height must be even and at least 32, got %dx%d", v.Width, v.Height)
	}
	c := v.CodecSettings
	switch groupType {
	case "HLS_GROUP_SETTINGS":
		h := c.H264Settings
		switch {
		case o.ContainerSettings.Container != "M3U8":
			return fmt.Errorf("container %q is not M3U8", o.ContainerSettings.Container)
		case c.Codec != "H_264" || h == nil:
			return errors.New("the fake's HLS outputs are H_264 with h264Settings")
		case h.RateControlMode == "QVBR" && h.MaxBitrate < 1000:
			return errors.New("QVBR needs maxBitrate")
		case h.GopSize <= 0:
			return errors.New("gopSize must be positive")
		case h.FramerateControl == "SPECIFIED" && (h.FramerateNumerator < 1 || h.FramerateDenominator < 1):
			return errors.New("a SPECIFIED frame rate needs its numerator and denominator")
		}
		for _, a := range o.AudioDescriptions {
			if a.CodecSettings.Codec != "AAC" || a.CodecSettings.AacSettings == nil || a.CodecSettings.AacSettings.Bitrate < 6000 {
				return errors.New("audio must be AAC with a bitrate")
			}
		}
	case "FILE_GROUP_SETTINGS":
		fc := c.FrameCaptureSettings
		switch {
		case o.ContainerSettings.Container != "RAW" || c.Codec != "FRAME_CAPTURE" || fc == nil:
			return errors.New("the fake's file outputs are RAW frame captures")
		case fc.FramerateNumerator < 1 || fc.FramerateDenominator < 1 || fc.MaxCaptures < 1:
			return errors.New("frameCaptureSettings need a frame rate and maxCaptures")
		case fc.MaxCaptures > 10000:
			return errors.New("the fake writes at most 10000 captures")
		}
	}
	return nil
}

// captureJPEG is a frame capture: a JPEG of width×height whose colour
// tells captures apart.
func captureJPEG(width, height, n int) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	c := color.RGBA{R: uint8(40 * n), G: uint8(255 - 20*n), B: 128, A: 255}
	for y := range height {
		for x := range width {
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
