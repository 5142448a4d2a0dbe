<?php
// Which shard process answered: its pid.
echo getmypid();
