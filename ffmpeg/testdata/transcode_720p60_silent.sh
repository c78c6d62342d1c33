cd /work/job/hls
ffmpeg \
  -hide_banner \
  -nostdin \
  -nostats \
  -loglevel error \
  -y \
  -progress pipe:1 \
  -max_pixels 16777216 \
  -protocol_whitelist file \
  -format_whitelist mov,matroska,avi,mpeg,mpegts \
  -i \
  file:/work/job/source \
  -filter_complex '[0:V:0]fps=30,split=1[s0];[s0]scale=1280:720,setsar=1,format=yuv420p[v0]' \
  -map '[v0]' \
  -c:v libx264 \
  -preset veryfast \
  -profile:v high \
  -level:v 3.1 \
  -crf 23 \
  -maxrate 3080k \
  -bufsize 3080k \
  -force_key_frames 'expr:gte(t,n_forced*4)' \
  -sc_threshold 0 \
  -g 240 \
  -f hls \
  -hls_time 4 \
  -hls_playlist_type vod \
  -hls_flags independent_segments \
  -hls_segment_type mpegts \
  -hls_segment_filename \
  'file:720p/seg_%05d.ts' \
  -map_metadata -1 \
  -map_chapters -1 \
  -protocol_whitelist file \
  file:/work/job/hls/720p/index.m3u8
