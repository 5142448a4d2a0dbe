<?php
// Classic mode: the `upload-400m` scenario (see scenarios.php).
require_once __DIR__ . '/scenarios.php';
bench_upload();
