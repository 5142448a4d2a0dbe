<?php
require __DIR__ . '/../../lib/who.php';
echo who(['WORKER_NAME' => null], 1);
