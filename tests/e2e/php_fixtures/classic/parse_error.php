<?php
echo "this line never runs" +;
