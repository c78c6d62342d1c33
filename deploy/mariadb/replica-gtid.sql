-- Run once by the official image on the replica's first start, after its
-- entrypoint has pointed the replica at MARIADB_MASTER_HOST and started it:
-- replicate by GTID (the position the replica has applied, kept in
-- mysql.gtid_slave_pos), as docker-compose.yml and CI's test harness do, so
-- the replica resumes at the right transaction after a restart of either
-- server.
STOP REPLICA;
CHANGE MASTER TO MASTER_USE_GTID = slave_pos;
START REPLICA;
