package mediaconvert

import (
	"errors"
	"math"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/mediaconvert/types"

	"github.com/edustream/edustream"
)

// The job's output names. The HLS group writes MasterName.m3u8 and, per
// rendition, MasterName_<rendition>.m3u8 with its segments, all in the
// work prefix (SINGLE_DIRECTORY): the master is edustream.MasterPlaylistName.
const masterBase = "master"

// Qualities. QVBR 7 is MediaConvert's suggestion for 1080p and below; it
// is capped at the rendition's peak, as ffmpeg's CRF 23 is.
const (
	qvbrQuality       = 7
	posterQuality     = 85
	storyboardQuality = 70
)

// jobSettings is the job equivalent to the ffmpeg transcoder's: one HLS
// group with every rendition of ladder (H.264 High at the ladder's level,
// QVBR capped at the ladder's peak, AAC-LC stereo when the source has
// audio, a keyframe at every segment boundary, square pixels, 30 fps at
// most), and two frame capture groups: the poster (the capture at
// edustream.PosterAt of the duration) and the storyboard's tiles.
func jobSettings(v *edustream.Video, ladder []edustream.Rendition, bucket string, segment int) (*types.JobSettings, error) {
	m := v.Media
	switch {
	case m == nil:
		return nil, errors.New("mediaconvert: the video has no probe results")
	case len(ladder) == 0:
		return nil, errors.New("mediaconvert: an empty ladder")
	}
	dest := func(prefix string) *string { return aws.String("s3://" + bucket + "/" + prefix) }
	input := types.Input{
		FileInput:      dest(v.SourceKey()),
		TimecodeSource: types.InputTimecodeSourceZerobased,
		// The ladder is in displayed size: turn the picture as the
		// source's rotation says, as ffprobe reported it.
		VideoSelector: &types.VideoSelector{Rotate: types.InputRotateAuto},
	}
	if m.HasAudio() {
		input.AudioSelectors = map[string]types.AudioSelector{
			"Audio Selector 1": {DefaultSelection: types.AudioDefaultSelectionDefault},
		}
	}

	hls := types.OutputGroup{
		Name: aws.String("HLS"),
		OutputGroupSettings: &types.OutputGroupSettings{
			Type: types.OutputGroupTypeHlsGroupSettings,
			HlsGroupSettings: &types.HlsGroupSettings{
				Destination:            dest(v.WorkPrefix() + masterBase),
				DirectoryStructure:     types.HlsDirectoryStructureSingleDirectory,
				SegmentControl:         types.HlsSegmentControlSegmentedFiles,
				SegmentLength:          aws.Int32(int32(segment)),
				MinSegmentLength:       aws.Int32(0),
				OutputSelection:        types.HlsOutputSelectionManifestsAndSegments,
				ManifestDurationFormat: types.HlsManifestDurationFormatFloatingPoint,
				CodecSpecification:     types.HlsCodecSpecificationRfc4281,
				StreamInfResolution:    types.HlsStreamInfResolutionInclude,
			},
		},
	}
	for _, r := range ladder {
		hls.Outputs = append(hls.Outputs, rendition(r, m, segment))
	}

	pw, ph := edustream.PosterSize(m.Width, m.Height)
	sb := edustream.StoryboardFor(m.DurationSeconds, m.Width, m.Height)
	return &types.JobSettings{
		Inputs: []types.Input{input},
		OutputGroups: []types.OutputGroup{
			hls,
			// Captures start at 0 s: the second, one PosterAt-of-the-
			// duration later, is the poster.
			captures("Poster", dest(v.CapturePrefix()+edustream.PosterCaptureName), pw, ph,
				max(1, int(math.Round(m.DurationSeconds*edustream.PosterAt))), 2, posterQuality),
			captures("Storyboard", dest(v.CapturePrefix()+edustream.StoryboardCaptureName), sb.TileWidth, sb.TileHeight,
				sb.Interval, sb.Count, storyboardQuality),
		},
	}, nil
}

// rendition is one HLS output of the ladder.
func rendition(r edustream.Rendition, m *edustream.MediaInfo, segment int) types.Output {
	h264 := &types.H264Settings{
		CodecProfile:    types.H264CodecProfileHigh,
		CodecLevel:      codecLevel(r),
		RateControlMode: types.H264RateControlModeQvbr,
		QvbrSettings:    &types.H264QvbrSettings{QvbrQualityLevel: aws.Int32(qvbrQuality)},
		MaxBitrate:      aws.Int32(int32(r.PeakVideoBitrate())),
		// A keyframe at every segment boundary and nowhere else, the same
		// in every rendition, so players can switch at any segment.
		GopSize:           aws.Float64(float64(segment)),
		GopSizeUnits:      types.H264GopSizeUnitsSeconds,
		GopClosedCadence:  aws.Int32(1),
		SceneChangeDetect: types.H264SceneChangeDetectDisabled,
		ParControl:        types.H264ParControlSpecified,
		ParNumerator:      aws.Int32(1),
		ParDenominator:    aws.Int32(1),
		FramerateControl:  types.H264FramerateControlInitializeFromSource,
	}
	if num, den, ok := frameRate(m.FrameRate); ok {
		h264.FramerateControl = types.H264FramerateControlSpecified
		h264.FramerateNumerator, h264.FramerateDenominator = aws.Int32(num), aws.Int32(den)
	}
	out := types.Output{
		NameModifier:      aws.String("_" + r.Name),
		ContainerSettings: &types.ContainerSettings{Container: types.ContainerTypeM3u8},
		VideoDescription: &types.VideoDescription{
			Width:           aws.Int32(int32(r.Width)),
			Height:          aws.Int32(int32(r.Height)),
			ScalingBehavior: types.ScalingBehaviorStretchToOutput,
			CodecSettings:   &types.VideoCodecSettings{Codec: types.VideoCodecH264, H264Settings: h264},
		},
	}
	if m.HasAudio() && r.AudioBitrate > 0 {
		out.AudioDescriptions = []types.AudioDescription{{
			CodecSettings: &types.AudioCodecSettings{
				Codec: types.AudioCodecAac,
				AacSettings: &types.AacSettings{
					Bitrate:         aws.Int32(int32(r.AudioBitrate)),
					CodecProfile:    types.AacCodecProfileLc,
					CodingMode:      types.AacCodingModeCodingMode20,
					RateControlMode: types.AacRateControlModeCbr,
					SampleRate:      aws.Int32(48000),
				},
			},
		}}
	}
	return out
}

// captures is a file group of JPEG frame captures: one every interval
// seconds from the start, at most count.
func captures(name string, destination *string, width, height, interval, count, quality int) types.OutputGroup {
	return types.OutputGroup{
		Name: aws.String(name),
		OutputGroupSettings: &types.OutputGroupSettings{
			Type:              types.OutputGroupTypeFileGroupSettings,
			FileGroupSettings: &types.FileGroupSettings{Destination: destination},
		},
		Outputs: []types.Output{{
			ContainerSettings: &types.ContainerSettings{Container: types.ContainerTypeRaw},
			VideoDescription: &types.VideoDescription{
				Width:           aws.Int32(int32(width)),
				Height:          aws.Int32(int32(height)),
				ScalingBehavior: types.ScalingBehaviorStretchToOutput,
				CodecSettings: &types.VideoCodecSettings{
					Codec: types.VideoCodecFrameCapture,
					FrameCaptureSettings: &types.FrameCaptureSettings{
						FramerateNumerator:   aws.Int32(1),
						FramerateDenominator: aws.Int32(int32(interval)),
						MaxCaptures:          aws.Int32(int32(count)),
						Quality:              aws.Int32(int32(quality)),
					},
				},
			},
		}},
	}
}

// codecLevel is the H.264 level the rendition's CODECS names.
func codecLevel(r edustream.Rendition) types.H264CodecLevel {
	switch r.H264Level() {
	case "3.0":
		return types.H264CodecLevelLevel3
	case "3.1":
		return types.H264CodecLevelLevel31
	case "3.2":
		return types.H264CodecLevelLevel32
	case "4.0":
		return types.H264CodecLevelLevel4
	case "4.1":
		return types.H264CodecLevelLevel41
	case "4.2":
		return types.H264CodecLevelLevel42
	case "5.0":
		return types.H264CodecLevelLevel5
	case "5.1":
		return types.H264CodecLevelLevel51
	}
	return types.H264CodecLevelAuto
}

// frameRate returns the frame rate a rendition gets when it is not the
// source's (edustream.OutputFrameRate), as a fraction over 1001 so NTSC
// rates stay exact (59.94 → 30000/1001).
func frameRate(src float64) (num, den int32, ok bool) {
	out := edustream.OutputFrameRate(src)
	if out == src {
		return 0, 0, false
	}
	return int32(math.Round(out * 1001)), 1001, true
}
