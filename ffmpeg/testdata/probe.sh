ffprobe \
  -hide_banner \
  -loglevel error \
  -of json \
  -show_entries format=format_name,start_time,duration,size,bit_rate:stream=index,codec_type,codec_name,width,height,sample_aspect_ratio,avg_frame_rate,r_frame_rate,nb_frames,duration:stream_disposition=attached_pic:stream_side_data=side_data_type,rotation:stream_tags=rotate \
  -max_pixels 16777216 \
  -protocol_whitelist file \
  -format_whitelist mov,matroska,avi,mpeg,mpegts \
  -i \
  file:/work/job/source

ffprobe \
  -hide_banner \
  -loglevel error \
  -read_intervals '3595.000%' \
  -show_entries packet=pts_time,duration_time \
  -of csv=p=0 \
  -max_pixels 16777216 \
  -protocol_whitelist file \
  -format_whitelist mov,matroska,avi,mpeg,mpegts \
  -i \
  file:/work/job/source
