ffmpeg \
  -hide_banner \
  -nostdin \
  -nostats \
  -loglevel error \
  -y \
  -ss 360.000 \
  -max_pixels 16777216 \
  -protocol_whitelist file \
  -format_whitelist mov,matroska,avi,mpeg,mpegts \
  -i \
  file:/work/job/source \
  -max_pixels 16777216 \
  -protocol_whitelist file \
  -format_whitelist mov,matroska,avi,mpeg,mpegts \
  -i \
  file:/work/job/source \
  -filter_complex '[0:V:0]scale=1280:720,setsar=1[poster]' \
  -filter_complex '[1:V:0]fps=1/36,scale=160:90,setsar=1,tile=10x10[sprite]' \
  -map '[poster]' \
  -frames:v 1 \
  -q:v 3 \
  -update 1 \
  -map_metadata -1 \
  -map_chapters -1 \
  -protocol_whitelist file \
  file:/work/job/thumbs/poster.jpg \
  -map '[sprite]' \
  -frames:v 1 \
  -q:v 5 \
  -update 1 \
  -map_metadata -1 \
  -map_chapters -1 \
  -protocol_whitelist file \
  file:/work/job/thumbs/storyboard.jpg
