<?php
// An interim 103 Early Hints response, then the real one.
header('Link: </style.css>; rel=preload; as=style');
header('Link: </app.js>; rel=preload; as=script', false);
headers_send(103);
header_remove('Link');
header('X-Final: yes');
echo "final response\n";
